"""Label values shared by the data and the models (the bottom layer, like the registry)."""

VOID = 255  # DAVIS's void / "don't care" pixels; also outside-the-frame crop padding
