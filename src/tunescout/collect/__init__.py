"""Collection: run a source (APIs, public downloads, files, synthetic) into weekly raw snapshots."""
