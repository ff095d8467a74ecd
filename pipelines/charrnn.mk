# pipelines/charrnn.mk - the char-rnn experiment: validation loss against training time.
#
#   make -C pipelines -f charrnn.mk                 10 minutes of training, the chosen settings
#                                                   (the layer-normalised LSTM, 2 x 256)
#   make -C pipelines -f charrnn.mk BUDGET=120 H=128 L=1
#   make -C pipelines -f charrnn.mk CELL=gru        the GRU (or CELL=lstm: the plain LSTM)
#   make -C pipelines -f charrnn.mk DROPKIND=locked locked (variational) dropout instead
#   make -C pipelines -f charrnn.mk results         one line per finished run
#
# Trains with a target at every position on tinyshakespeare (or TEXT=), the last 10% of the
# characters held out, the rest cut into B streams of N steps with the state carried
# (train --streams), for BUDGET seconds of training (validation time not counted), validating
# every EVAL batches. DROPOUT is the rate of DROPKIND dropout: step (--dropout, a new mask at
# every step, between layers; the default) or locked (--locked-dropout, one mask per sequence
# on each layer's input above the first and on the output; doc/EXPERIMENTS.md: as good on
# Shakespeare, worse on the second corpus).
# Outputs in runs/charrnn-hH-lL-nN-bB-tBUDGET[-dDROPOUT | -ldDROPOUT (locked)]-CELL/:
#   model, best.model   the last and the best (lowest validation loss) model
#   loss.tsv            train --log: epoch, train_loss, val_loss, seconds since the last line
#   curve.tsv           elapsed training seconds and validation loss, for plotting
#   curve.png           the plot (gnuplot, when installed)
#   sample.txt          500 characters from the best model after PROMPT (default ROMEO:)
#   result.tsv          settings, the best validation loss and when it was reached ('-' when
#                       the run has no validation result)

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

BIN      ?= $(abspath ../bin)
SHARED   ?= ../../shared/data/tinyshakespeare.txt
TEXT     ?= $(SHARED)
RUNS     ?= runs
BUDGET   ?= 600
H        ?= 256
L        ?= 2
N        ?= 50
B        ?= 50
LR       ?= 3e-3
SCHEDULE ?= cosine
DROPOUT  ?= 0.25
DROPKIND ?= step
CLIP     ?= 5
EVAL     ?= 100
SEED     ?= 1
CELL     ?= lnlstm
PROMPT   ?= ROMEO:

ifeq ($(filter locked step,$(DROPKIND)),)
$(error charrnn.mk: DROPKIND=$(DROPKIND) is not locked or step)
endif
LOCKED  := $(filter locked,$(DROPKIND))
DROPOPT := $(if $(LOCKED),--locked-dropout,--dropout) $(DROPOUT)
RUN := $(RUNS)/charrnn-h$(H)-l$(L)-n$(N)-b$(B)-t$(BUDGET)$(if $(filter-out 0,$(DROPOUT)),-$(if $(LOCKED),l)d$(DROPOUT))-$(CELL)

.PHONY: all results text-check
all: $(RUN)/result.tsv $(RUN)/sample.txt $(RUN)/curve.png
	@cat $(RUN)/result.tsv

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
	    set ylabel 'validation loss (nats/char)'; set title '$(notdir $(RUN))'; \
	    plot '$<' using 1:2 skip 1 with linespoints title 'validation'"; \
	else echo "charrnn.mk: gnuplot is not installed; skipping $@" >&2; fi

$(RUN)/sample.txt: $(RUN)/model
	$(BIN)/sample -m $(RUN)/best.model --seed "$(PROMPT)" --skip-unknown -n 500 -t 0.8 --rng-seed $(SEED) > $@

$(RUN)/result.tsv: $(RUN)/curve.tsv
	awk -F'\t' -v c=$(CELL) -v h=$(H) -v l=$(L) -v n=$(N) -v b=$(B) -v t=$(BUDGET) \
	    'NR > 1 && $$2 ~ /^[0-9]/ && (best == "" || $$2 + 0 < best) { best = $$2 + 0; at = $$1 } \
	     END { printf "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", c, h, l, n, b, t, \
	           best == "" ? "-" : sprintf("%.4f", best), best == "" ? "-" : sprintf("%.0f", at) }' $< > $@
	@if [ "$$(cut -f7 $@)" = - ]; then echo "charrnn.mk: no validation result in $(RUN)/loss.tsv (best_val_loss '-')" >&2; fi

results:
	@printf 'cell\thidden\tlayers\tsteps\tstreams\tbudget_s\tbest_val_loss\tat_s\n'
	@cat $(RUNS)/charrnn-*/result.tsv 2>/dev/null || true
