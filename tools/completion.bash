# bash completion for the charpipe tools (make install puts it, under each tool's name, where
# bash-completion looks: PREFIX/share/bash-completion/completions).
#
# Options come from the tool's own --help (read once per shell), so they never drift from
# the tools; an option's argument completes as a file name, as one of its values (--cell,
# --layout, --schedule), or not at all (a number).

_charpipe_options()
{
    local var="_charpipe_opts_${1//-/_}"
    if [ -z "${!var+set}" ]; then
        printf -v "$var" '%s' "$("$1" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' \
            | sed 's/^[ ,]*//' | sort -u | tr '\n' ' ')"
    fi
    printf '%s' "${!var}"
}

_charpipe()
{
    local cmd=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    case $prev in
        -o|--output|-m|--model|--resume|--init|--log|--best|--input|-v|--vocab|--seed-file|--adapt)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur"); compopt -o filenames 2>/dev/null; return ;;
        --cell) COMPREPLY=($(compgen -W 'lstm gru lnlstm' -- "$cur")); return ;;
        --layout) COMPREPLY=($(compgen -W 'torch keras' -- "$cur")); return ;;
        --schedule) COMPREPLY=($(compgen -W 'none cosine step' -- "$cur")); return ;;
        --precision) COMPREPLY=($(compgen -W 'fp32 bf16' -- "$cur")); return ;;
        --stream-starts) COMPREPLY=($(compgen -W 'fixed random' -- "$cur")); return ;;
        --sample-every) COMPREPLY=($(compgen -W 'epoch' -- "$cur")); return ;;
        -[nsbtkpcejHLVj]|--chars|--seed|--temperature|--top-k|--top-p|--rng-seed|--count|--separator|\
        --beam|--maxlen|--step|--batch|--streams|--chunk|--vocab-size|--head|--threads|--epochs|\
        --hidden|--layers|--lr|--val|--clip|--dropout|--decay-rate|--decay-every|--eval-every|\
        --max-seconds|--max-batches|--sample-temps|--sample-chars|--sample-seed|--weight-drop|\
        --locked-dropout|--input-dropout|--weight-decay|--warmup|--ema|--dynamic-lr|--dynamic-decay|--dynamic-segment)
            # a value, not a file (but --streams, a flag of train and a number of window and
            # evaluate, and -s, a seed text or a step: nothing to offer either way)
            [ "$cmd" = train ] && [ "$prev" = --streams ] || return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_charpipe_options "$1")" -- "$cur"))
        return
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")  # tdump FILE..., and files after < or >
    compopt -o filenames 2>/dev/null
}

complete -F _charpipe vocab window onehot tdump train sample evaluate export-model
