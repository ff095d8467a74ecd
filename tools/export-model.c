/* export-model - a model as safetensors, for PyTorch or Keras (lib/safetensors.h, lib/EXPORT.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "output.h"
#include "model.h"
#include "safetensors.h"

static const char *opt_model, *opt_out, *opt_layout = "torch";
static int opt_force;

static void usage(void)
{
    printf(
"NAME\n"
"    export-model - write a model as safetensors, for PyTorch or Keras\n\n"
"SYNOPSIS\n"
"    export-model -m MODEL [--layout torch|keras] [-f] [-o FILE] [> FILE]\n\n"
"DESCRIPTION\n"
"    Writes the weights of a model made by train as a safetensors file (the format of the\n"
"    Hugging Face safetensors project: an 8-byte little-endian header length, a JSON\n"
"    header, raw little-endian float32 data), with the vocabulary, the model's shape and\n"
"    the training settings in its __metadata__ (all strings). The optimizer state is not\n"
"    exported.\n\n"
"    The torch layout is the state_dict of an nn.LSTM or nn.GRU (batch_first, named rnn)\n"
"    and an nn.Linear (named out): rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,\n"
"    rnn.bias_hh_l0, ..., out.weight, out.bias, so that load_state_dict takes it as it is\n"
"    (the GRU's gates reordered from Keras's z, r, h to PyTorch's r, z, n; the LSTM's one\n"
"    bias in bias_ih, bias_hh zero). The layer-normalised LSTM (lnlstm) has no PyTorch\n"
"    module: it is exported under its own names (rnn.weight_ih_lK, rnn.weight_hh_lK,\n"
"    rnn.bias_lK, rnn.gamma_lK) for a forward pass written by hand. The keras layout keeps\n"
"    the model file's names and Keras's shapes, in the order set_weights takes them. Every\n"
"    layout is described in lib/EXPORT.md; examples/torch-sample.py samples from an export.\n\n"
"OPTIONS\n"
"    -m, --model FILE    the model (required)\n"
"        --layout L      torch or keras (default %s)\n"
"    -o, --output FILE   write to FILE (atomic replace; never the model, nor a terminal);\n"
"                        default stdout\n"
"    -f, --force         replace FILE even when it is read-only\n"
"        --version       print the version\n"
"    -h, --help          this help\n\n"
"EXAMPLE\n"
"    export-model -m model -o model.safetensors\n"
"    python3 -c 'from safetensors.numpy import load_file; print(load_file(\"model.safetensors\"))'\n\n"
"EXIT STATUS\n"
"    0 success, 1 failure, 2 bad usage.\n", opt_layout);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    enum { O_LAYOUT = 256 };
    static const struct option longopts[] = {
        { "model", 1, 0, 'm' }, { "output", 1, 0, 'o' }, { "force", 0, 0, 'f' }, { "layout", 1, 0, O_LAYOUT },
        { "help", 0, 0, 'h' }, CLI_VERSION_OPTION, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = cli_getopt(argc, argv, "m:o:fh", longopts)) != -1) {
        switch (c) {
        case 'm': opt_model = cli_path("-m", optarg); break;
        case 'o': opt_out = cli_path("-o", optarg); break;
        case 'f': opt_force = 1; break;
        case O_LAYOUT: opt_layout = optarg; break;
        case 'h': usage(); return 0;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt_model)
        cli_usage_error("a model is required (-m MODEL)");
    int layout = strcmp(opt_layout, "torch") == 0 ? ST_LAYOUT_TORCH
               : strcmp(opt_layout, "keras") == 0 ? ST_LAYOUT_KERAS : -1;
    if (layout < 0)
        cli_usage_error("--layout: '%s' is not torch or keras", opt_layout);
    out_input(opt_model, 0);
    if (opt_out)
        out_path("-o", opt_out, OUT_BINARY);
    else
        out_stdout(OUT_BINARY);
    out_check(opt_force);

    model m;
    train_state st;
    char err[512];
    if (model_read(&m, &st, opt_model, err, sizeof err) < 0)
        cli_die("%s", err);
    if (!opt_out) {
        if (st_write_model(&m, &st, layout, 1, "stdout", err, sizeof err) < 0)
            cli_die("%s", err);
    } else {
        out_file of;
        if (out_open(&of, opt_out) < 0)
            cli_die("%s: cannot write: %s", opt_out, strerror(errno));
        if (st_write_model(&m, &st, layout, of.fd, opt_out, err, sizeof err) < 0) {
            out_abort(&of);
            cli_die("%s", err);
        }
        if (out_commit(&of) < 0)
            cli_die("%s: cannot replace: %s", opt_out, strerror(errno));
    }
    model_free(&m);
    train_state_free(&st);
    return 0;
}
