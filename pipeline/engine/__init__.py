"""Training and inference: pretraining on mmengine, OSVOS one-shot fine-tuning, prediction."""
