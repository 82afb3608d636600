# bash completion for cardex — commands, options, card ids and packs (asked of the daemon).
_cardex() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
  local commands="search answer show suggest related stats ping reload help"
  local common="--socket --timeout --json --color --help --version"
  local sockopt=()
  local i
  for ((i = 1; i < cword; i++)); do
    [[ ${words[i]} == --socket ]] && sockopt=(--socket "${words[i+1]}")
  done
  case $prev in
    --pack) COMPREPLY=($(compgen -W "$(cardex "${sockopt[@]}" --timeout 500 __complete packs 2>/dev/null)" -- "$cur")); return ;;
    --tag) COMPREPLY=($(compgen -W "$(cardex "${sockopt[@]}" --timeout 500 __complete tags 2>/dev/null)" -- "$cur")); return ;;
    --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    --timeout|--limit|-n|--offset) return ;;
  esac
  local cmd=""
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      --socket|--timeout|--color|--limit|-n|--offset|--pack|--tag) ((i++)) ;;
      -*) ;;
      *) cmd=${words[i]}; break ;;
    esac
  done
  if [[ $cur == -* ]]; then
    case $cmd in
      show) COMPREPLY=($(compgen -W "$common --markdown --html" -- "$cur")) ;;
      answer) COMPREPLY=($(compgen -W "$common --pack --tag" -- "$cur")) ;;
      related|suggest) COMPREPLY=($(compgen -W "$common --limit" -- "$cur")) ;;
      stats|ping|reload) COMPREPLY=($(compgen -W "$common" -- "$cur")) ;;
      *) COMPREPLY=($(compgen -W "$common --limit --offset --pack --tag --score --explain" -- "$cur")) ;;
    esac
    return
  fi
  case $cmd in
    "") COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
    show|related) COMPREPLY=($(compgen -W "$(cardex "${sockopt[@]}" --timeout 500 __complete ids "$cur" 2>/dev/null)" -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
  esac
}
complete -F _cardex cardex
