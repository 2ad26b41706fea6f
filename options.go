package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"groupsync/explo"
	"groupsync/manifest"
	"groupsync/reconcile"
	"groupsync/state"
)

// paths is a repeatable -f flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

// common are the flags of validate, plan and apply.
type common struct {
	files     paths
	delimiter string
	state     string
	apiURL    string
	tokenFile string
	json      bool
	only      string
	rate      string
	rebind    bool
}

func (c *common) manifestFlags(fs *flag.FlagSet) {
	fs.Var(&c.files, "f", "manifest `PATH`: a .csv, .yaml or .yml file, or a directory of them (repeatable)")
	fs.StringVar(&c.delimiter, "delimiter", "", "CSV delimiter: ',', ';' or 'tab' (default: detected from the header)")
}

func (c *common) register(fs *flag.FlagSet) {
	c.manifestFlags(fs)
	defURL := os.Getenv("EXPLO_API_URL")
	if defURL == "" {
		defURL = explo.DefaultURL
	}
	fs.StringVar(&c.state, "state", "groupsync.state.json", "state file `PATH`")
	fs.StringVar(&c.apiURL, "api-url", defURL, "API base `URL` ($EXPLO_API_URL); http:// only for loopback hosts")
	fs.StringVar(&c.tokenFile, "token-file", "", "read the API token from `PATH` (default: $EXPLO_API_TOKEN)")
	fs.BoolVar(&c.json, "json", false, "machine-readable output on stdout")
	fs.StringVar(&c.only, "only", "", "restrict to these group `IDS` (comma-separated)")
	fs.StringVar(&c.rate, "rate", "180/m", "client-side request `RATE`, e.g. 180/m or 3/s")
	fs.BoolVar(&c.rebind, "rebind", false, "accept a state applied with another API URL or token (after a token rotation)")
}

func (c *common) delim() (rune, error) {
	switch c.delimiter {
	case "":
		return 0, nil
	case ",", ";":
		return rune(c.delimiter[0]), nil
	case "tab", "\t", `\t`:
		return '\t', nil
	}
	return 0, fmt.Errorf("--delimiter %q: want ',', ';' or 'tab'", c.delimiter)
}

// load reads and validates the manifests, printing warnings; an invalid
// manifest is an error listing every problem.
func (c *common) load(stderr io.Writer) (*manifest.Manifest, error) {
	d, err := c.delim()
	if err != nil {
		return nil, err
	}
	m, err := manifest.Load(c.files, manifest.Options{Delimiter: d})
	var perrs manifest.Errors
	if errors.As(err, &perrs) {
		for _, e := range perrs {
			fmt.Fprintln(stderr, "groupsync: "+e.Error())
		}
		return nil, fmt.Errorf("%d problem%s in the manifests; nothing was sent", len(perrs), plural(len(perrs)))
	}
	if err != nil {
		return nil, err
	}
	for _, w := range m.Warnings {
		fmt.Fprintln(stderr, "groupsync: warning: "+w)
	}
	return m, nil
}

// onlySet parses --only; nil means every group.
func (c *common) onlySet() map[string]bool {
	if c.only == "" {
		return nil
	}
	set := map[string]bool{}
	for _, id := range strings.Split(c.only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			set[id] = true
		}
	}
	return set
}

// restrict applies --only to the manifest groups and to the state, so that
// other groups are neither planned nor reported as orphans.
func restrict(only map[string]bool, groups []reconcile.Group, st *reconcile.State) ([]reconcile.Group, *reconcile.State) {
	if only == nil {
		return groups, st
	}
	var out []reconcile.Group
	for _, g := range groups {
		if only[g.ID] {
			out = append(out, g)
		}
	}
	view := *st
	view.Groups = map[string]*reconcile.Applied{}
	for id, a := range st.Groups {
		if only[id] {
			view.Groups[id] = a
		}
	}
	return out, &view
}

// checkURL refuses, before any connection, a URL that would send the API
// token in clear text to another machine.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--api-url %q is not a URL like https://api.explo.co", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("--api-url %q: http:// would send the API token in clear text; only loopback hosts may use it\ngroupsync: hint: use https://", raw)
		}
	default:
		return "", fmt.Errorf("--api-url %q: the scheme must be https", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiToken reads the API token from --token-file or $EXPLO_API_TOKEN. The
// token is never printed, not even in part.
func (c *common) apiToken() (string, error) {
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("read the API token: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("--token-file %s is empty", c.tokenFile)
	}
	if t := strings.TrimSpace(os.Getenv("EXPLO_API_TOKEN")); t != "" {
		return t, nil
	}
	return "", errors.New("no API token: set $EXPLO_API_TOKEN or use --token-file PATH")
}

// checkBinding refuses a state applied elsewhere, unless --rebind. An empty
// token (plan without one) skips the token check.
func (c *common) checkBinding(st *reconcile.State, apiURL, token string) (rebound bool, err error) {
	var diffs []string
	if st.APIURL != "" && st.APIURL != apiURL {
		diffs = append(diffs, fmt.Sprintf("it was applied to %s, not %s", st.APIURL, apiURL))
	}
	if token != "" && st.TokenFingerprint != "" && st.TokenFingerprint != state.Fingerprint(token) {
		diffs = append(diffs, "it was applied with another API token")
	}
	if len(diffs) == 0 {
		return false, nil
	}
	if !c.rebind {
		return false, fmt.Errorf("state %s belongs elsewhere: %s\ngroupsync: hint: use another --state, or --rebind after rotating the token or moving the API",
			c.state, strings.Join(diffs, ", and "))
	}
	return true, nil
}

// parseRate reads "180/m", "3/s" or "10800/h" as calls per second.
func parseRate(s string) (float64, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || v <= 0 {
		return 0, fmt.Errorf("rate %q: want a positive number per unit, like 180/m or 3/s", s)
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if per == 0 {
		return 0, fmt.Errorf("rate %q: the unit must be s, m or h", s)
	}
	return v / per.Seconds(), nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// thousands formats n as 1,241.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
