package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const completionHelp = `Usage: groupsync completion bash|zsh|fish

Prints a shell completion script: the commands, their flags, the values
of --api, --format and the like, and file names for -f, --state,
--report and the other flags that take a path. Load it with
    source <(groupsync completion bash)          # in ~/.bashrc
    source <(groupsync completion zsh)           # in ~/.zshrc
    groupsync completion fish | source           # in ~/.config/fish/config.fish
`

// command is a command as completion knows it: its words (state's
// subcommands, completion's shells) and the flag set that -h shows.
type command struct {
	name, desc string
	words      []string
	flags      func() *flag.FlagSet
}

// commands lists every command, with the flag sets the commands parse
// with, and the descriptions of Usage.
func commands() []command {
	noEnv := func(string) string { return "" }
	cfg := func() *Config { c := DefaultConfig(noEnv); return &c }
	cmds := []command{
		{name: "validate", flags: func() *flag.FlagSet { return validateFlagSet(cfg(), io.Discard) }},
		{name: "plan", flags: func() *flag.FlagSet { return planFlagSet(cfg(), io.Discard) }},
		{name: "apply", flags: func() *flag.FlagSet { return applyFlagSet(cfg(), io.Discard) }},
		{name: "state", words: []string{"list", "show", "rm"}, flags: func() *flag.FlagSet { return stateFlagSet(cfg(), io.Discard) }},
		{name: "rotate", flags: func() *flag.FlagSet { return rotateFlagSet(cfg(), io.Discard) }},
		{name: "sandbox", flags: func() *flag.FlagSet { return sandboxFlagSet(&sandboxFlags{}, io.Discard) }},
		{name: "completion", words: []string{"bash", "zsh", "fish"}},
		{name: "version"},
		{name: "help"},
	}
	descs := usageDescriptions()
	for i := range cmds {
		cmds[i].desc = descs[cmds[i].name]
		if cmds[i].flags == nil {
			cmds[i].flags = func() *flag.FlagSet { return flag.NewFlagSet(cmds[i].name, flag.ContinueOnError) }
		}
	}
	return cmds
}

// usageDescriptions reads each command's description from Usage: the
// text after the command's synopsis.
func usageDescriptions() map[string]string {
	descs := map[string]string{"help": "show this help"}
	for _, line := range strings.Split(Usage, "\n") {
		rest, ok := strings.CutPrefix(line, "    groupsync ")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		if _, seen := descs[name]; seen {
			continue
		}
		desc := ""
		if i := strings.LastIndex(rest, "  "); i >= 0 {
			desc = strings.TrimSpace(rest[i:])
		}
		descs[name] = desc
	}
	return descs
}

// completionFlag is one flag as a completion script offers it.
type completionFlag struct {
	name    string // as written: -f, --state
	desc    string
	value   bool // takes a value
	file    bool // the value is a path
	choices []string
}

// chooser is a flag.Value that knows its values.
type chooser interface{ values() []string }

func (v *flagValue) values() []string { return v.choices }

func completionFlags(fs *flag.FlagSet) []completionFlag {
	var out []completionFlag
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		cf := completionFlag{name: flagName(f.Name), desc: usage, value: arg != ""}
		cf.file = strings.Contains(arg, "PATH") || strings.HasSuffix(arg, ".json")
		if c, ok := f.Value.(chooser); ok {
			cf.choices = c.values()
		}
		out = append(out, cf)
	})
	return out
}

func runCompletion(args []string, o IO) error {
	fs := newFlagSet("completion", completionHelp, o.Stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("completion: name one shell: bash, zsh or fish")
	}
	var script string
	switch fs.Arg(0) {
	case "bash":
		script = bashCompletion(commands())
	case "zsh":
		script = zshCompletion(commands())
	case "fish":
		script = fishCompletion(commands())
	default:
		return fmt.Errorf("completion: unknown shell %q: want bash, zsh or fish", fs.Arg(0))
	}
	_, err := io.WriteString(o.Stdout, script)
	return quietPipe(err)
}

// shellQuote quotes s for a POSIX shell, fish and zsh alike.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func bashCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("# bash completion for groupsync: source <(groupsync completion bash)\n_groupsync() {\n")
	b.WriteString("    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, "    if [[ $COMP_CWORD -eq 1 ]]; then\n        COMPREPLY=($(compgen -W %s -- \"$cur\"))\n        return\n    fi\n", shellQuote(strings.Join(names, " ")))
	b.WriteString("    case \"${COMP_WORDS[1]}\" in\n")
	for _, c := range cmds {
		flags := completionFlags(c.flags())
		fmt.Fprintf(&b, "    %s)\n        case \"$prev\" in\n", c.name)
		for _, f := range flags {
			if !f.value {
				continue
			}
			// The flag package takes -name and --name alike.
			pattern := f.name
			if strings.HasPrefix(f.name, "--") {
				pattern = f.name[1:] + "|" + f.name
			}
			switch {
			case f.file:
				fmt.Fprintf(&b, "        %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", pattern)
			case len(f.choices) > 0:
				fmt.Fprintf(&b, "        %s) COMPREPLY=($(compgen -W %s -- \"$cur\")); return ;;\n", pattern, shellQuote(strings.Join(f.choices, " ")))
			default:
				fmt.Fprintf(&b, "        %s) return ;;\n", pattern)
			}
		}
		words := append([]string{}, c.words...)
		for _, f := range flags {
			words = append(words, f.name)
		}
		fmt.Fprintf(&b, "        esac\n        COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", shellQuote(strings.Join(words, " ")))
	}
	b.WriteString("    esac\n}\ncomplete -o filenames -F _groupsync groupsync\n")
	return b.String()
}

// zshSpec escapes text for an _arguments spec or a _describe item.
func zshSpec(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

func zshCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("#compdef groupsync\n# zsh completion for groupsync: source <(groupsync completion zsh)\n_groupsync() {\n")
	b.WriteString("    local -a commands\n    commands=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "        %s\n", shellQuote(c.name+":"+zshSpec(c.desc)))
	}
	b.WriteString("    )\n    if (( CURRENT == 2 )); then\n        _describe command commands\n        return\n    fi\n")
	b.WriteString("    local cmd=$words[2]\n    shift words\n    (( CURRENT-- ))\n    case $cmd in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n        _arguments -s \\\n", c.name)
		for _, f := range completionFlags(c.flags()) {
			spec := f.name + "[" + zshSpec(f.desc) + "]"
			if f.name == "-f" {
				spec = "*" + spec
			}
			switch {
			case f.file:
				spec += ":path:_files"
			case len(f.choices) > 0:
				spec += ":value:(" + strings.Join(f.choices, " ") + ")"
			case f.value:
				spec += ":value: "
			}
			fmt.Fprintf(&b, "            %s \\\n", shellQuote(spec))
		}
		if len(c.words) > 0 {
			fmt.Fprintf(&b, "            %s \\\n", shellQuote("1:"+c.name+":("+strings.Join(c.words, " ")+")"))
		}
		b.WriteString("            && return 0 ;;\n")
	}
	b.WriteString("    esac\n}\nif [[ $funcstack[1] == _groupsync ]]; then\n    _groupsync \"$@\"\nelse\n    compdef _groupsync groupsync\nfi\n")
	return b.String()
}

func fishCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("# fish completion for groupsync: groupsync completion fish | source\ncomplete -c groupsync -f\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c groupsync -n __fish_use_subcommand -a %s -d %s\n", c.name, shellQuote(c.desc))
	}
	for _, c := range cmds {
		cond := shellQuote("__fish_seen_subcommand_from " + c.name)
		for _, w := range c.words {
			fmt.Fprintf(&b, "complete -c groupsync -n %s -a %s\n", cond, w)
		}
		for _, f := range completionFlags(c.flags()) {
			opt := "-l " + strings.TrimPrefix(f.name, "--")
			if len(f.name) == 2 {
				opt = "-s " + f.name[1:]
			}
			switch {
			case f.file:
				opt += " -r -F"
			case len(f.choices) > 0:
				opt += " -x -a " + shellQuote(strings.Join(f.choices, " "))
			case f.value:
				opt += " -x"
			}
			fmt.Fprintf(&b, "complete -c groupsync -n %s %s -d %s\n", cond, opt, shellQuote(f.desc))
		}
	}
	return b.String()
}
