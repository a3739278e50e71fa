# Quick start: `make repro` (set up + run the whole pipeline), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install repro test davis heldout bench clean-venv

# The real-DAVIS profile (README, "Running on real DAVIS"): a DVC experiment on a local DAVIS
# root (default: the 30 DAVIS 2016 train + 3 val sequences in ../shared/data).
# Half of the pretraining clips come from the still photos in PHOTOS (README, "Pretraining on
# still photos"), where that folder exists; PHOTOS= trains on the videos alone. 600 iterations
# of batch 8: under an hour on 2 cores of an AMD EPYC without AMX (about 5 s an iteration).
DAVIS ?= ../shared/data/davis2016-dev
PHOTOS ?= ../shared/data/static-images
DAVIS_PROFILE := -S download.source=local -S download.path=$(DAVIS) \
	-S decode.height=480 -S decode.width=854 -S model.crop_size=160 \
	-S '~model.backbone.slow_pathway' \
	-S '+model.backbone.slow_pathway={type: EfficientNetLite0Pathway, init: imagenet}' \
	-S pretrain.iters=600 -S pretrain.batch_size=8 -S pretrain.checkpoint_interval=100 \
	$(if $(wildcard $(PHOTOS)),-S download.photos=$(PHOTOS) -S pretrain.photo_prob=0.5)

# The held-out protocol (README, "Choosing settings on held-out sequences"): the profile with
# 8 train sequences moved to val (siblings of DAVIS 2016 val's hard cases; 4 fast-motion).
# The parent never sees them; metrics.json reports J_and_F_heldout beside J_and_F_val.
HOLDOUT := [motocross-bumps, breakdance-flare, dance-jump, bmx-bumps, kite-walk, paragliding, drift-turn, horsejump-low]

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# dvc.yaml runs `python -m stages.…`: put the venv first on PATH so that is our python.
repro: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	$(BIN)/dvc metrics show

davis: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc exp run $(DAVIS_PROFILE) $(EXP_ARGS)
	$(BIN)/dvc metrics show

heldout: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc exp run $(DAVIS_PROFILE) -S 'download.holdout=$(HOLDOUT)' $(EXP_ARGS)
	$(BIN)/dvc metrics show

test: install
	$(BIN)/python -m pytest -q

# Speed figures -> BENCHMARKS.md (needs ../shared/data/davis2016-dev and an idle machine).
bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONPATH=. $(BIN)/python benchmarks/bench_all.py

clean-venv:
	rm -rf $(VENV)
