"""The change feed's storage: what each transaction changed, written as it commits (capture.py,
service.py), and the feed's clock (the last cursor, the channel its moves are announced on).
Below availability, whose ETags and cache follow the clock; the feed's reading is app/changes/."""
