# pipelines/experiments.mk - issue 29's measurements, one command each, for a quiet machine:
# charrnn.mk's runs one after another, each with evaluate --dynamic on its best model, a table
# and the curves.
#
#   make -C pipelines -f experiments.mk          all of it (about 3.5 hours at BUDGET=600)
#   make -C pipelines -f experiments.mk ten      tinyshakespeare, SETTINGS x SEEDS, BUDGET each
#   make -C pipelines -f experiments.mk corpus2  Python's NEWS (Debian's python3.X), CORPUS2_SETTINGS x
#                                                CORPUS2_SEEDS, and PyTorch's 2 x 256 LSTM (../shared/peers)
#   make -C pipelines -f experiments.mk hour     tinyshakespeare, SIZE=auto for HOUR seconds
#   make -C pipelines -f experiments.mk table    the table of what has finished (and the PNGs)
#   make -C pipelines -f experiments.mk BUDGET=20 HOUR=30 ...   a check of the recipes
#
# The settings (each charrnn.mk's defaults plus):
#   fixed     SIZE=fixed         lnlstm 2 x 256 (the size before issue 29), dropout 0.35
#   auto      (nothing)          the defaults: the size measured for BUDGET, the weights
#                                averaged (train --ema 0.999)
#   noema     EMA=0              the same without the average
# Outputs in EXP (runs/experiments-tBUDGET):
#   NAME/...          each run's charrnn.mk directory (model, loss.tsv, result.tsv, dynamic.tsv)
#   machine.txt       the CPU, its cores and flags, and the kernels train uses
#   table.tsv         a line per run: corpus, setting, seed, budget, size, steps (N), dropout,
#                     weight drop, EMA, stream starts, characters a second, epochs, best
#                     validation loss and when, dynamic evaluation's loss of the best model
#                     on the validation text
#   torch.json        PyTorch's run on the second corpus (its val_loss: at the end of BUDGET)
#   ten.png, corpus2.png, hour.png    the validation curves (gnuplot); make doc copies them
#                     and table.tsv into ../doc/ as experiments-*.png, experiments.tsv

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.NOTPARALLEL:
.DELETE_ON_ERROR:

BIN      ?= $(abspath ../bin)
SHARED   ?= $(abspath ../../shared/data/tinyshakespeare.txt)
PYNEWS   ?= $(lastword $(sort $(wildcard /usr/share/doc/python3.[0-9]/NEWS.gz /usr/share/doc/python3.[0-9][0-9]/NEWS.gz)))
PEERS    ?= $(abspath ../../shared/peers)
PY_TORCH ?= /usr/bin/python3
BUDGET   ?= 600
HOUR     ?= 3600
SETTINGS ?= fixed auto noema
CORPUS2_SETTINGS ?= fixed auto
CORPUS2_SEEDS    ?= 1
SEEDS    ?= 1 2
EXP      ?= runs/experiments-t$(BUDGET)
GNUPLOT  ?= gnuplot

S_fixed    = SIZE=fixed
S_auto     =
S_noema    = EMA=0
CHARRNN    = $(MAKE) --no-print-directory -f charrnn.mk BIN=$(BIN)

.PHONY: all ten corpus2 hour table doc check
all: ten corpus2 hour table

check:
	@test -x $(BIN)/train -a -x $(BIN)/evaluate || { echo "experiments.mk: $(BIN)/train not found (make first, or BIN=)" >&2; exit 1; }
	@test -f $(SHARED) || { echo "experiments.mk: SHARED=$(SHARED) not found (tinyshakespeare.txt)" >&2; exit 1; }
	@mkdir -p $(EXP)
	@{ grep -m1 '^model name' /proc/cpuinfo; echo "cores: $$(nproc)"; \
	   echo "avx512: $$(grep -o -m1 -w 'avx512f' /proc/cpuinfo || echo no), avx512_bf16: $$(grep -o -m1 -w 'avx512_bf16' /proc/cpuinfo || echo no)"; \
	   $(BIN)/train --version; } > $(EXP)/machine.txt

# one run: NAME TEXT SETTING-VARIABLES... (charrnn.mk skips a run that has finished)
run = $(CHARRNN) RUNS=$(EXP)/$(1) TEXT=$(2) BUDGET=$(3) $(4) all dynamic

# every setting x seed: SETTINGS SEEDS NAME-PREFIX TITLE TEXT [MORE-VARIABLES]
runs = for s in $(1); do for seed in $(2); do \
	  echo "== experiments.mk: $(4), $$s, seed $$seed, $(BUDGET) s" >&2; \
	  $(call run,$(3)-$$s-s$$seed,$(5),$(BUDGET),$(eval_s) SEED=$$seed $(6)) || exit 1; \
	done; done

ten: check
	@$(call runs,$(SETTINGS),$(SEEDS),ten,tinyshakespeare,$(SHARED))

# (the settings' variables, looked up by name in the shell: make cannot index by a shell word)
eval_s = $$(case $$s in fixed) echo '$(S_fixed)' ;; auto) echo '$(S_auto)' ;; noema) echo '$(S_noema)' ;; \
           *) echo "experiments.mk: unknown setting $$s" >&2; exit 1 ;; esac)

$(EXP)/python-news.txt:
	@test -n "$(PYNEWS)" || { echo "experiments.mk: no /usr/share/doc/python3.X/NEWS.gz (Debian's python3.X)" >&2; exit 1; }
	@mkdir -p $(@D)
	zcat $(PYNEWS) > $@

corpus2: check $(EXP)/python-news.txt
	@$(call runs,$(CORPUS2_SETTINGS),$(CORPUS2_SEEDS),news,Python's NEWS,$(abspath $(EXP)/python-news.txt),PROMPT=Python)
	@if [ -s $(EXP)/torch.json ]; then :; \
	elif [ ! -f $(PEERS)/torch_lstm.py ]; then echo "experiments.mk: $(PEERS)/torch_lstm.py not found (PEERS=): no torch.json" >&2; \
	elif $(PY_TORCH) -c 'import torch' 2>/dev/null; then \
	  echo "== experiments.mk: PyTorch 2 x 256 LSTM on Python's NEWS, $(BUDGET) s" >&2; \
	  $(PY_TORCH) $(PEERS)/torch_lstm.py train --task charrnn --hidden 256 --layers 2 --threads $$(nproc) \
	      --budget $(BUDGET) --eval-every 60 --data $(abspath $(EXP)/python-news.txt) > $(EXP)/torch.json.tmp \
	      && mv $(EXP)/torch.json.tmp $(EXP)/torch.json || { rm -f $(EXP)/torch.json.tmp; exit 1; }; \
	else echo "experiments.mk: no PyTorch ($(PY_TORCH) -c 'import torch' fails): no torch.json" >&2; fi

hour: check
	@echo "== experiments.mk: tinyshakespeare, auto, $(HOUR) s" >&2
	$(call run,hour-auto-s1,$(SHARED),$(HOUR),SEED=1)

# a run's stream starts, from its charrnn.mk directory's name (-rs-: random), in the shell
starts_of = $$(case $$(basename $(1)) in *-rs-*) echo random ;; *) echo fixed ;; esac)

# a line per finished run: its directory's result.tsv and dynamic.tsv (charrnn.mk dir names it)
table: check
	@{ printf 'run\tcorpus\tbudget_s\thidden\tlayers\tsteps\tdropout\tweight_drop\tema\tstarts\tchars_per_s\tepochs\tbest_val_loss\tat_s\tdynamic_loss\n'; \
	  for r in $(EXP)/*/charrnn-*/result.tsv; do [ -f "$$r" ] || continue; d=$$(dirname $$r); \
	    name=$$(basename $$(dirname $$d)); case $$name in news-*) c=python-news ;; *) c=tinyshakespeare ;; esac; \
	    st=$(call starts_of,$$d); \
	    dyn=$$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) k[$$i] = i } NR == 2 { print $$k["dynamic_loss_nats"] }' $$d/dynamic.tsv 2>/dev/null); \
	    awk -F'\t' -v n=$$name -v c=$$c -v st=$$st -v dyn="$${dyn:--}" '{ printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", \
	      n, c, $$6, $$2, $$3, $$4, $$9, $$10, $$11, st, $$12, $$13, $$7, $$8, dyn }' $$r; \
	  done; \
	  if [ -s $(EXP)/torch.json ]; then $(PY_TORCH) -c 'import json, sys; r = json.load(open(sys.argv[1])); \
	    print("torch-lstm\tpython-news\t%g\t%d\t%d\t%d\t%g\t0\t0\tfixed\t%.0f\t%.2f\t%.4f\t%.0f\t-" % (r["budget_s"], r["hidden"], r["layers"], r["seqlen"], \
	    r["dropout"], r["chars_per_s"], r["epochs"], min(c["val_loss"] for c in r["curve"]), r["train_s"]))' $(EXP)/torch.json; fi; \
	} > $(EXP)/table.tsv
	@column -t -s $$'\t' $(EXP)/table.tsv 2>/dev/null || cat $(EXP)/table.tsv
	@$(MAKE) --no-print-directory -f experiments.mk plots

# the validation curves of the runs of each group in one plot, cut at 2.0 nats unless no point
# is below it (gnuplot refuses a plot with every point out of range)
.PHONY: plots
plots:
	@if ! command -v $(GNUPLOT) > /dev/null; then echo "experiments.mk: $(GNUPLOT) is not installed: no curves" >&2; exit 0; fi; \
	for g in ten news hour; do p= fs=; \
	  for c in $(EXP)/$$g-*/charrnn-*/curve.tsv; do [ -f "$$c" ] || continue; fs="$$fs $$c"; \
	    t=$$(basename $$(dirname $$(dirname $$c))); [ $(call starts_of,$$(dirname $$c)) = fixed ] || t="$$t, random starts"; p="$$p$${p:+, }'$$c' using 1:2 skip 1 with lines title '$$t'"; done; \
	  [ -n "$$p" ] || continue; \
	  top=$$(awk 'FNR > 1 && $$2 + 0 < 2 { low = 1 } END { print low ? "2.0" : "*" }' $$fs); \
	  $(GNUPLOT) -e "set terminal png size 900,560; set output '$(EXP)/$$g.png'; set xlabel 'training seconds'; \
	    set ylabel 'validation loss (nats/char)'; set title '$$g ($$(sed -n 's/^model name.*: //p' $(EXP)/machine.txt))' noenhanced; \
	    set key top right noenhanced; set yrange [:$$top]; plot $$p"; \
	done

doc: table
	cp $(EXP)/table.tsv ../doc/experiments.tsv
	for g in ten news hour; do [ ! -f $(EXP)/$$g.png ] || cp $(EXP)/$$g.png ../doc/experiments-$$g.png; done
