"""Column names of interaction and prediction frames, shared by splits, metrics and protocols
(the ``col_*`` keyword arguments default to these)."""

USER = "user_id"
ITEM = "artist_id"
RATING = "weight"
PREDICTION = "score"
TIMESTAMP = "timestamp"
