# pipelines/charrnn.mk - the char-rnn experiment: validation loss against training time.
#
#   make -C pipelines -f charrnn.mk                 10 minutes of training, the chosen settings
#                                                   (the layer-normalised LSTM, sized for the
#                                                   budget on this machine: SIZE=auto)
#   make -C pipelines -f charrnn.mk BUDGET=120 H=128 L=1
#   make -C pipelines -f charrnn.mk SIZE=fixed      2 x 256, dropout 0.35 (the size before auto)
#   make -C pipelines -f charrnn.mk CELL=gru        the GRU (or CELL=lstm: the plain LSTM)
#   make -C pipelines -f charrnn.mk DROPKIND=locked locked (variational) dropout instead
#   make -C pipelines -f charrnn.mk dynamic         also evaluate --dynamic on the validation text
#   make -C pipelines -f charrnn.mk results         one line per finished run
#
# Trains with a target at every position on tinyshakespeare (or TEXT=), the last 10% of the
# characters held out, the rest cut into B streams of N steps with the state carried
# (train --streams), for BUDGET seconds of training (validation time not counted), validating
# every EVAL batches. DROPOUT is the rate of DROPKIND dropout: step (--dropout, a new mask at
# every step, between layers; the default) or locked (--locked-dropout, one mask per sequence
# on each layer's input above the first and on the output; doc/EXPERIMENTS.md: as good on
# Shakespeare, worse on the second corpus). WDROP is --weight-drop's rate, EMA --ema's decay
# (the model's weights are the moving average of the weights trained; 0: off). N 25, dropout
# 0.35 at 2 x 256 and EMA 0.999 are the ten-minute runs' best (doc/EXPERIMENTS.md, "Shorter
# truncation, more dropout, the average": N 50, dropout 0.25 and no EMA before). STARTS is
# where each epoch's streams start (train --stream-starts): random (the default: a new offset
# into each stream's share every epoch, so the model learns to start from a zero state
# anywhere; doc/EXPERIMENTS.md) or fixed (the same B places every epoch, as char-rnn).
#
# SIZE=auto (the default) measures, before training, the characters a second of a few sizes
# on this machine (pipelines/autosize.sh: train --max-batches, a few seconds each) and trains
# the largest that sees enough epochs in BUDGET, with the dropout and weight drop to match
# (doc/EXPERIMENTS.md, "A model sized to the budget": the rule and the data behind it). The
# choice is kept in RUNS/autosize/ (per text, budget, shape and CPU; measured again when
# train, the text or the rule changes). H or L on the command line means SIZE=fixed (2 x 256,
# dropout 0.35 where not given); DROPOUT and WDROP given win either way.
# Outputs in runs/charrnn-hH-lL-nN-bB-tBUDGET[-dDROPOUT | -ldDROPOUT (locked)][-wdWDROP][-emaEMA][-rs (random starts)]-CELL/:
#   model, best.model   the last and the best (lowest validation loss) model
#   loss.tsv            train --log: epoch, train_loss, val_loss, seconds since the last line,
#                       characters a second
#   curve.tsv           elapsed training seconds and validation loss, for plotting
#   curve.png           the plot (gnuplot, when installed)
#   sample.txt          500 characters from the best model after PROMPT (default ROMEO:)
#   result.tsv          settings, the best validation loss and when it was reached ('-' when
#                       the run has no validation result), dropout, weight drop, EMA, the
#                       characters a second and the epochs of the run
#   dynamic.tsv         (make ... dynamic) evaluate --dynamic --tsv of best.model on the
#                       validation text, its last 10%

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

BIN      ?= $(abspath ../bin)
SHARED   ?= ../../shared/data/tinyshakespeare.txt
TEXT     ?= $(SHARED)
RUNS     ?= runs
BUDGET   ?= 600
SIZE     ?= auto
N        ?= 25
B        ?= 50
LR       ?= 3e-3
SCHEDULE ?= cosine
EMA      ?= 0.999
STARTS   ?= random
DROPKIND ?= step
CLIP     ?= 5
EVAL     ?= 100
SEED     ?= 1
CELL     ?= lnlstm
PROMPT   ?= ROMEO:

ifeq ($(filter locked step,$(DROPKIND)),)
$(error charrnn.mk: DROPKIND=$(DROPKIND) is not locked or step)
endif
ifneq ($(filter command line,$(origin H) $(origin L)),)
SIZE := fixed
endif
ifeq ($(filter fixed random,$(STARTS)),)
$(error charrnn.mk: STARTS=$(STARTS) is not fixed or random)
endif
ifeq ($(filter auto fixed,$(SIZE)),)
$(error charrnn.mk: SIZE=$(SIZE) is not auto or fixed)
endif
# SIZE=auto: the measured size, made (and make restarted with it) when missing or older than
# train, the text or the rule; not for the goals that train nothing
CPUKEY   := $(shell { grep -m1 '^model name' /proc/cpuinfo; grep -m1 '^flags' /proc/cpuinfo; nproc; } 2>/dev/null | cksum | cut -d' ' -f1)
AUTOSIZE := $(RUNS)/autosize/$(basename $(notdir $(TEXT)))-t$(BUDGET)-$(CELL)-n$(N)-b$(B)-$(CPUKEY).mk
ifeq ($(SIZE)$(filter results text-check,$(MAKECMDGOALS)),auto)
include $(AUTOSIZE)
H        ?= $(AUTO_H)
L        ?= $(AUTO_L)
DROPOUT  ?= $(AUTO_DROPOUT)
WDROP    ?= $(AUTO_WDROP)
endif
H        ?= 256
L        ?= 2
DROPOUT  ?= 0.35
WDROP    ?= 0

LOCKED  := $(filter locked,$(DROPKIND))
DROPOPT := $(if $(LOCKED),--locked-dropout,--dropout) $(DROPOUT)$(if $(filter-out 0,$(WDROP)), --weight-drop $(WDROP))$(if $(filter-out 0,$(EMA)), --ema $(EMA))$(if $(filter random,$(STARTS)), --stream-starts random)
RUN := $(RUNS)/charrnn-h$(H)-l$(L)-n$(N)-b$(B)-t$(BUDGET)$(if $(filter-out 0,$(DROPOUT)),-$(if $(LOCKED),l)d$(DROPOUT))$(if $(filter-out 0,$(WDROP)),-wd$(WDROP))$(if $(filter-out 0,$(EMA)),-ema$(EMA))$(if $(filter random,$(STARTS)),-rs)-$(CELL)

.PHONY: all results text-check dynamic dir
all: $(RUN)/result.tsv $(RUN)/sample.txt $(RUN)/curve.png
	@cat $(RUN)/result.tsv

dir:
	@echo $(RUN)

$(AUTOSIZE): $(wildcard $(TEXT) $(BIN)/train) autosize.sh
	@mkdir -p $(@D)
	BIN=$(BIN) N=$(N) B=$(B) CELL=$(CELL) ./autosize.sh $(TEXT) $(BUDGET) $@

# (a missing TEXT gets a message naming the variables to set, not make's "No rule to make target")
$(RUN)/model: $(wildcard $(TEXT)) | text-check
	@mkdir -p $(@D)
	@rm -f $(RUN)/loss.tsv
	$(BIN)/vocab < $< | $(BIN)/train --streams -n $(N) -b $(B) -H $(H) -L $(L) --cell $(CELL) --val 0.1 \
	    --lr $(LR) --schedule $(SCHEDULE) $(DROPOPT) --clip $(CLIP) --seed $(SEED) \
	    --max-seconds $(BUDGET) --eval-every $(EVAL) --log $(RUN)/loss.tsv \
	    --best $(RUN)/best.model -o $@ 2> >(tee $(RUN)/train.err >&2)

text-check:
	@test -f $(TEXT) || { echo "charrnn.mk: TEXT=$(TEXT) not found: set TEXT=path/to/text (or SHARED=path/to/tinyshakespeare.txt)" >&2; exit 1; }

$(RUN)/curve.tsv: $(RUN)/model
	awk -F'\t' 'NR == 1 { print "seconds\tval_loss"; next } { s += $$4; printf "%.1f\t%s\n", s, $$3 }' \
	    $(RUN)/loss.tsv > $@

$(RUN)/curve.png: $(RUN)/curve.tsv
	@if command -v gnuplot >/dev/null; then \
	  gnuplot -e "set terminal png size 800,500; set output '$@'; set xlabel 'training seconds'; \
	    set ylabel 'validation loss (nats/char)'; set title '$(notdir $(RUN))' noenhanced; \
	    plot '$<' using 1:2 skip 1 with linespoints title 'validation'"; \
	else echo "charrnn.mk: gnuplot is not installed; skipping $@" >&2; fi

$(RUN)/sample.txt: $(RUN)/model
	$(BIN)/sample -m $(RUN)/best.model --seed "$(PROMPT)" --skip-unknown -n 500 -t 0.8 --rng-seed $(SEED) > $@

# result.tsv: the best validation loss and when (curve.tsv), then the characters a second
# (loss.tsv: weighted by each line's seconds) and the epochs trained
$(RUN)/result.tsv: $(RUN)/curve.tsv
	awk -F'\t' -v c=$(CELL) -v h=$(H) -v l=$(L) -v n=$(N) -v b=$(B) -v t=$(BUDGET) \
	    -v d=$(DROPOUT) -v wd=$(WDROP) -v ema=$(EMA) -v loss=$(RUN)/loss.tsv \
	    'NR > 1 && $$2 ~ /^[0-9]/ && (best == "" || $$2 + 0 < best) { best = $$2 + 0; at = $$1 } \
	     END { while ((getline line < loss) > 0) if (k++) { split(line, f, "\t"); s += f[4]; ch += f[4] * f[5]; ep = f[1] } \
	           printf "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, h, l, n, b, t, \
	           best == "" ? "-" : sprintf("%.4f", best), best == "" ? "-" : sprintf("%.0f", at), d, wd, ema, \
	           (s > 0 ? sprintf("%.0f", ch / s) : "-"), (ep == "" ? "-" : sprintf("%.2f", ep)) }' $< > $@
	@if [ "$$(cut -f7 $@)" = - ]; then echo "charrnn.mk: no validation result in $(RUN)/loss.tsv (best_val_loss '-')" >&2; fi

# dynamic evaluation of the best model on the validation text: the last 10% of the characters,
# as train --val 0.1 takes them
dynamic: $(RUN)/dynamic.tsv
	@cat $<
$(RUN)/dynamic.tsv: $(RUN)/model
	perl -CSD -0777 -ne 'print substr($$_, length($$_) - int(length($$_) * 0.1))' $(TEXT) \
	    | $(BIN)/evaluate -m $(RUN)/best.model --dynamic --tsv > $@

results:
	@printf 'cell\thidden\tlayers\tsteps\tstreams\tbudget_s\tbest_val_loss\tat_s\tdropout\tweight_drop\tema\tchars_per_s\tepochs\n'
	@cat $(RUNS)/charrnn-*/result.tsv 2>/dev/null || true
