"""Building on Apache Spark: the same stages as the local build, into the same verified artifacts.

``python scripts/build.py --engine spark [--master local[*] | spark://… | yarn | k8s://…]``:

- :mod:`.session`: the Spark session (master, offline model, Arrow, small local-mode settings);
- :mod:`.catalog`: catalog assembly from the raw Parquet snapshots with Spark SQL (identity
  resolution on the driver with :mod:`tunescout.catalog.identity`);
- :mod:`.als`: ALS with :class:`pyspark.ml.recommendation.ALS` into the project's
  :class:`~tunescout.indexes.als.FactorModel` artifacts;
- :mod:`.semantic`: MiniLM encoding of the catalog documents with ``mapInPandas``, one model per
  executor;
- :mod:`.build`: the whole build through :class:`~tunescout.indexes.writer.BuildWriter`, so
  ``Engine.load`` and the app cannot tell which engine built it (docs/SCALING.md).

Importing this package does not import pyspark; each module imports it where it is needed.
"""
