# pipelines/sweep.mk - the regularisation sweep (issue 16): a few settings of train --streams,
# each for the same time budget, one after another, tabulated and plotted together.
#
#   make -C pipelines -f sweep.mk                  SETTINGS on tinyshakespeare, BUDGET=600 each
#   make -C pipelines -f sweep.mk CORPUS=pynews    the same on the second corpus (below)
#   make -C pipelines -f sweep.mk SETTINGS="base awd" BUDGET=3600     the long run of two
#   make -C pipelines -f sweep.mk S_mine="--weight-drop 0.5" SETTINGS="base mine"
#   make -C pipelines -f sweep.mk table            the table of the finished settings
#
# Every setting trains BASE plus its own options S_<name> (later options win: S_ may change
# -H, --lr, ...) on TEXT, the last 10% held out, for BUDGET seconds of training, validating
# every EVAL batches. The runs are made one at a time (.NOTPARALLEL: they are timed, and a
# second run on the same cores would slow the first). Outputs in RUNS/sweep-NAME-tBUDGET/:
#   vocab.ts                 the encoded text, shared by the settings
#   SETTING/opts             the options train got (a change of them redoes that setting)
#   SETTING/model, best.model, loss.tsv, train.err    train -o, --best, --log, its stderr
#   SETTING/curve.tsv        training seconds and validation loss
#   SETTING/result.tsv       setting, best validation loss, when (training seconds), the
#                            characters per second, the epochs run, the options
#   table.tsv                every setting's result.tsv under a header, best first
#   curves.png               every setting's validation curve in one plot (gnuplot; skipped
#                            with a message when it is not installed)
#
# CORPUS picks TEXT: shakespeare (SHARED, tinyshakespeare) or pynews, the second corpus for
# checking that the ordering of the settings is not tuned to one text: Python's NEWS file
# (PYNEWS, /usr/share/doc/python3.X/NEWS.gz from Debian's python3.X package: about 1.4 MB of
# English release notes), decompressed into RUNS. TEXT=FILE takes any text instead.

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:
.NOTPARALLEL:
.SECONDARY:

BIN      ?= $(abspath ../bin)
SHARED   ?= ../../shared/data/tinyshakespeare.txt
PYNEWS   ?= $(lastword $(sort $(wildcard /usr/share/doc/python3.[0-9]/NEWS.gz /usr/share/doc/python3.[0-9][0-9]/NEWS.gz)))
CORPUS   ?= shakespeare
RUNS     ?= runs
BUDGET   ?= 600
EVAL     ?= 100
SEED     ?= 1
GNUPLOT  ?= gnuplot

# the settings: charrnn.mk's of 2026-12-06, when the sweep was run (lnlstm 2 x 256, N 50, 50
# streams, cosine from 3e-3, clip 5; charrnn.mk has since moved to N 25 and --ema 0.999) and
# per setting what it adds
BASE     ?= --cell lnlstm -H 256 -L 2 -n 50 -b 50 --lr 3e-3 --schedule cosine --clip 5
S_base   ?= --dropout 0.25
S_locked ?= --locked-dropout 0.25
S_wdrop  ?= --dropout 0.25 --weight-drop 0.3
S_awd    ?= --locked-dropout 0.25 --weight-drop 0.3 --input-dropout 0.05
S_decay  ?= --dropout 0.25 --weight-decay 0.1
S_warmup ?= --dropout 0.25 --warmup 300 --lr 4e-3
S_all    ?= $(S_awd) --weight-decay 0.1 --warmup 200
SETTINGS ?= base locked wdrop awd decay all

ifeq ($(CORPUS),pynews)
TEXT     ?= $(RUNS)/python-news.txt
else ifeq ($(CORPUS),shakespeare)
TEXT     ?= $(SHARED)
else
$(error sweep.mk: CORPUS=$(CORPUS) is not shakespeare or pynews (or give TEXT=FILE))
endif
ifeq ($(wildcard $(TEXT))$(filter $(RUNS)/python-news.txt,$(TEXT))$(filter table,$(MAKECMDGOALS)),)
$(error sweep.mk: TEXT=$(TEXT) not found)
endif
NAME     := $(basename $(notdir $(TEXT)))
D        := $(RUNS)/sweep-$(NAME)-t$(BUDGET)
opts      = $(BASE) $(S_$(1)) --seed $(SEED) --eval-every $(EVAL)

.PHONY: all table check FORCE
all: $(D)/table.tsv $(D)/curves.png
	@column -t -s $$'\t' $(D)/table.tsv 2>/dev/null || cat $(D)/table.tsv

check:
	@test -x $(BIN)/train -a -x $(BIN)/vocab || { echo "sweep.mk: $(BIN)/train or vocab not found (make first, or BIN=)" >&2; exit 1; }

$(RUNS)/python-news.txt:
	@test -n "$(PYNEWS)" || { echo "sweep.mk: no /usr/share/doc/python3.X/NEWS.gz here (Debian's python3.X package); give TEXT=" >&2; exit 1; }
	@mkdir -p $(@D)
	zcat $(PYNEWS) > $@

$(D)/vocab.ts: $(TEXT) | check
	@mkdir -p $(@D)
	$(BIN)/vocab < $< > $@

# the options, rewritten only when they change (so that make redoes only that setting)
$(D)/%/opts: FORCE | check
	@mkdir -p $(@D)
	@echo '$(call opts,$*)' | cmp -s - $@ 2>/dev/null || echo '$(call opts,$*)' > $@

$(D)/%/model: $(D)/%/opts $(D)/vocab.ts
	@echo "== $* ($$(cat $<)): $(BUDGET) s" >&2
	@rm -f $(@D)/loss.tsv $(@D)/best.model
	$(BIN)/train --streams $$(cat $<) --val 0.1 --max-seconds $(BUDGET) --no-progress \
	    --log $(@D)/loss.tsv --best $(@D)/best.model -o $@ < $(D)/vocab.ts 2> $(@D)/train.err \
	    || { tail -3 $(@D)/train.err >&2; exit 1; }

# loss.tsv: epoch, train_loss, val_loss, seconds and characters per second since the line before
$(D)/%/curve.tsv: $(D)/%/model
	awk -F'\t' 'NR == 1 { print "seconds\tval_loss"; next } { s += $$4; printf "%.1f\t%s\n", s, $$3 }' \
	    $(@D)/loss.tsv > $@

$(D)/%/result.tsv: $(D)/%/curve.tsv
	awk -F'\t' -v set=$* -v opts="$$(cat $(@D)/opts)" \
	    'NR > 1 && $$3 != "nan" && (best == "" || $$3 < best) { best = $$3; at = t + $$4 } \
	     NR > 1 { t += $$4; chars += $$4 * $$5; ep = $$1 } \
	     END { if (best == "") exit 1; \
	           printf "%s\t%.4f\t%.0f\t%.0f\t%.2f\t%s\n", set, best, at, chars / t, ep, opts }' \
	    $(@D)/loss.tsv > $@

$(D)/table.tsv: $(foreach s,$(SETTINGS),$(D)/$(s)/result.tsv)
	{ printf 'setting\tbest_val_loss\tat_s\tchars_per_s\tepochs\toptions\n'; \
	  sort -t $$'\t' -k2,2g $^; } > $@

$(D)/curves.png: $(foreach s,$(SETTINGS),$(D)/$(s)/curve.tsv)
	@if command -v $(GNUPLOT) >/dev/null; then \
	  p=; for s in $(SETTINGS); do p="$$p$${p:+, }'$(D)/$$s/curve.tsv' using 1:2 skip 1 with lines title '$$s'"; done; \
	  $(GNUPLOT) -e "set terminal png size 900,560; set output '$@'; set xlabel 'training seconds'; \
	    set ylabel 'validation loss (nats/char)'; set title '$(notdir $(D))'; set key top right; \
	    plot $$p" || { echo "sweep.mk: gnuplot failed; no $@" >&2; exit 1; }; \
	else echo "sweep.mk: $(GNUPLOT) is not installed; no curves.png" >&2; fi

table:
	@cat $(D)/table.tsv 2>/dev/null || echo "sweep.mk: no table yet in $(D)" >&2
