package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"groupsync/explo"
	"groupsync/internal/atomicfile"
	"groupsync/internal/textsafe"
	"groupsync/state"
)

// Config is everything a command needs from its flags and environment. The
// flags of every command write into one Config, whose defaults are set in
// one place, [DefaultConfig]; the pipeline and the commands read nothing
// else.
type Config struct {
	Files     []string
	Delimiter rune
	State     string
	APIURL    string
	TokenFile string
	JSON      bool
	Only      []string
	API       string
	Refresh   bool
	Prune     bool
	// PruneAdopted lets --prune delete the customers the state adopted.
	PruneAdopted bool
	// ListLimit bounds the customers one listing may read; 0 is the
	// default, which grows with the state and the manifests.
	ListLimit int
	Rebind    bool
	Rate      Rate

	// plan
	DetailedExitcode bool
	Out              string

	// apply
	Report       string
	ReportGiven  bool
	Concurrency  int
	MaxAttempts  int
	Timeout      time.Duration
	DryRun       bool
	MaxChanges   int
	Plan         string
	AutoApprove  bool
	StallTimeout time.Duration
	RedactTokens bool
	Verbose      bool

	// --format names the format of a manifest on standard input (csv or
	// yaml), and plan's output (text or markdown); the two sets of
	// values are apart, so one flag says either or both.
	StdinFormat string
	PlanFormat  string
	// LogFormat is how stderr carries what a run says: text or json.
	LogFormat string
	// ReportBOM starts a CSV report with a UTF-8 byte order mark.
	ReportBOM bool
}

// The APIs --api names.
const (
	APIUserGroup = "user-group"
	APICustomer  = "customer"
)

// DefaultConfig returns the defaults of every flag. getenv supplies
// $EXPLO_API_URL.
func DefaultConfig(getenv func(string) string) Config {
	apiURL := getenv("EXPLO_API_URL")
	if apiURL == "" {
		apiURL = explo.DefaultURL
	}
	return Config{
		State:        "groupsync.state.json",
		APIURL:       apiURL,
		API:          APIUserGroup,
		Rate:         Rate{Quota: 180, Window: time.Minute, Text: "180/m"},
		Report:       "groupsync-report.csv",
		Concurrency:  4,
		MaxAttempts:  6,
		Timeout:      30 * time.Second,
		StallTimeout: 5 * time.Minute,
	}
}

// Rate is a quota of calls per window, as --rate 180/m says it.
type Rate struct {
	Quota  int
	Window time.Duration
	Text   string
}

// PerSecond is the rate in calls per second.
func (r Rate) PerSecond() float64 { return float64(r.Quota) / r.Window.Seconds() }

// parseRate reads a quota per window: "180/m", "3/s", "10800/h", or with
// a window of several units, "100/10s", "180/3s". A fractional count keeps
// its rate: 0.5/s is one call per two seconds.
func parseRate(s string) (Rate, error) {
	n, window, ok := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1e6 {
		return Rate{}, fmt.Errorf("want a positive number per window, like 180/m, 3/s or 100/10s")
	}
	unit := window[max(len(window)-1, 0):]
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if per == 0 {
		return Rate{}, fmt.Errorf("the window's unit must be s, m or h")
	}
	if k := window[:len(window)-1]; k != "" {
		units, err := strconv.ParseFloat(k, 64)
		if err != nil || math.IsNaN(units) || units <= 0 || units > 1e6 {
			return Rate{}, fmt.Errorf("the window needs a positive length before its unit, like 100/10s or 1/2m")
		}
		per = time.Duration(units * float64(per))
	}
	quota := math.Round(v)
	if quota < 1 {
		quota = 1
	}
	return Rate{Quota: int(quota), Window: time.Duration(float64(per) * quota / v), Text: strings.TrimSpace(s)}, nil
}

// flagValue adapts a parse function to flag.Value.
type flagValue struct {
	text string
	set  func(string) error
	// choices are the values the flag takes, for shell completion.
	choices []string
}

func (v *flagValue) String() string     { return v.text }
func (v *flagValue) Set(s string) error { v.text = s; return v.set(s) }

// Flags a command may register. Each writes into the Config.
func (c *Config) manifestFlags(fs *flag.FlagSet) {
	fs.Func("f", "manifest `PATH`: a .csv, .tsv, .yaml, .yml or .xlsx file (FILE.xlsx#SHEET for a sheet), a directory of them, or - for standard input (repeatable)", func(s string) error {
		c.Files = append(c.Files, s)
		return nil
	})
	fs.Var(&flagValue{set: func(s string) error { return c.setDelimiter(s) }, choices: []string{",", ";", "tab"}}, "delimiter", "CSV delimiter `D`: ',', ';' or 'tab' (default: detected from the header)")
	fs.Var(&flagValue{text: c.API, set: c.setAPI, choices: []string{APIUserGroup, APICustomer}}, "api", "the Explo `API` to drive: user-group or customer")
}

func (c *Config) stateFlag(fs *flag.FlagSet) {
	fs.StringVar(&c.State, "state", c.State, "state file `PATH`")
}

func (c *Config) connectionFlags(fs *flag.FlagSet) {
	c.stateFlag(fs)
	fs.StringVar(&c.APIURL, "api-url", c.APIURL, "API base `URL` ($EXPLO_API_URL); http:// only for loopback hosts")
	fs.StringVar(&c.TokenFile, "token-file", "", "read the API token from `PATH` (default: $EXPLO_API_TOKEN)")
	fs.Var(&flagValue{text: c.Rate.Text, set: func(s string) error {
		r, err := parseRate(s)
		c.Rate = r
		return err
	}}, "rate", "client-side request `RATE`: a quota per window, e.g. 180/m, 3/s or 100/10s")
	fs.BoolVar(&c.JSON, "json", false, "machine-readable output on stdout")
	fs.BoolVar(&c.Rebind, "rebind", false, "accept a state applied with another API URL or token (after a token rotation)")
}

func (c *Config) planFlags(fs *flag.FlagSet) {
	c.manifestFlags(fs)
	c.connectionFlags(fs)
	fs.Var(&flagValue{set: c.setOnly}, "only", "restrict to these group `IDS` (comma-separated)")
	fs.BoolVar(&c.Refresh, "refresh", false, "Customer API: read every customer from the service and diff against it too")
	fs.BoolVar(&c.Prune, "prune", false, "Customer API: delete customers this state created that no manifest lists")
	fs.BoolVar(&c.PruneAdopted, "prune-adopted", false, "with --prune: also delete customers this state adopted (found existing)")
	fs.IntVar(&c.ListLimit, "list-limit", 0, "Customer API: refuse a list of more than `N` customers, as a service that never ends (default: 100,000, or 4 times the groups of the state and the manifests)")
}

// withPlan returns the configuration of applying a saved plan: the flags
// it was made with. A flag given now that says otherwise is refused: the
// plan is applied exactly as it was shown.
func (c Config) withPlan(saved *state.SavedPlan, fs *flag.FlagSet) (Config, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	api := saved.API
	if api == "" {
		api = APIUserGroup
	}
	planned := map[string]bool{"refresh": saved.Refresh, "prune": saved.Prune, "prune-adopted": saved.PruneAdopted}
	own := map[string]bool{"refresh": c.Refresh, "prune": c.Prune, "prune-adopted": c.PruneAdopted}
	for name, v := range planned {
		if given[name] && own[name] != v {
			return c, fmt.Errorf("--%s contradicts plan %s, which was made with --%s=%t: apply a plan as it was made, or plan again", name, c.Plan, name, v)
		}
	}
	if given["api"] && c.API != api {
		return c, fmt.Errorf("--api %s contradicts plan %s, made with --api %s", c.API, c.Plan, api)
	}
	if given["only"] && !slices.Equal(c.Only, saved.Only) {
		return c, fmt.Errorf("--only contradicts plan %s, made with --only %s: plan again", c.Plan, strings.Join(saved.Only, ","))
	}
	if saved.APIURL != c.APIURL {
		u, err := checkURL(c.APIURL)
		if err != nil || u != saved.APIURL {
			return c, fmt.Errorf("plan %s was made for %s, not %s", c.Plan, saved.APIURL, c.APIURL)
		}
	}
	c.API, c.Refresh, c.Prune, c.PruneAdopted, c.Only = api, saved.Refresh, saved.Prune, saved.PruneAdopted, saved.Only
	return c, nil
}

func (c *Config) callFlags(fs *flag.FlagSet) {
	fs.Var(&flagValue{set: func(s string) error { return setPath(&c.Report, &c.ReportGiven, s) }}, "report", "report `PATH`: CSV, or JSON when it ends in .json; mode 0600: it holds tokens (default \"groupsync-report.csv\")")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "calls in flight at once")
	fs.IntVar(&c.MaxAttempts, "max-attempts", c.MaxAttempts, "failed attempts per call, first try included (429s do not count)")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "timeout of one request")
	fs.DurationVar(&c.StallTimeout, "stall-timeout", c.StallTimeout, "stop the run when no call has succeeded for this long")
	fs.BoolVar(&c.RedactTokens, "redact-tokens", false, "leave the report's token column empty")
	fs.BoolVar(&c.Verbose, "v", false, "print every group's outcome on stderr (never a token)")
}

func setPath(dst *string, given *bool, s string) error {
	if s == "" {
		return errors.New("empty path")
	}
	*dst, *given = s, true
	return nil
}

func (c *Config) setDelimiter(s string) error {
	switch s {
	case ",", ";":
		c.Delimiter = rune(s[0])
	case "tab", "\t", `\t`:
		c.Delimiter = '\t'
	default:
		return fmt.Errorf("want ',', ';' or 'tab'")
	}
	return nil
}

func (c *Config) setAPI(s string) error {
	switch s {
	case APIUserGroup, APICustomer:
		c.API = s
		return nil
	}
	return fmt.Errorf("want %s or %s", APIUserGroup, APICustomer)
}

func (c *Config) setOnly(s string) error {
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			c.Only = append(c.Only, id)
		}
	}
	if len(c.Only) == 0 {
		return errors.New("no id given")
	}
	return nil
}

// checkConnection checks the flags of a command that may call the service,
// before any I/O.
func (c *Config) checkConnection() error {
	u, err := checkURL(c.APIURL)
	if err != nil {
		return err
	}
	c.APIURL = u
	if c.Concurrency < 1 {
		return fmt.Errorf("--concurrency %d: want at least 1", c.Concurrency)
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("--max-attempts %d: want at least 1", c.MaxAttempts)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", c.Timeout)
	}
	if c.StallTimeout < 0 {
		return fmt.Errorf("--stall-timeout %s: want a positive duration, or 0 for none", c.StallTimeout)
	}
	if c.ListLimit < 0 {
		return fmt.Errorf("--list-limit %d: want 0 (the default) or more", c.ListLimit)
	}
	if c.PruneAdopted && !c.Prune {
		return errors.New("--prune-adopted needs --prune: it says which customers --prune may delete")
	}
	if (c.Refresh || c.Prune) && c.API != APICustomer {
		flag := "--refresh"
		if !c.Refresh {
			flag = "--prune"
		}
		return fmt.Errorf("%s needs --api customer: the End User Group API cannot list or delete\ngroupsync: hint: add --api customer (the state carries over)", flag)
	}
	return nil
}

// checkURL refuses, before any connection, a URL that would send the API
// token in clear text to another machine, carry a password, or lose its
// paths to a query or fragment. A password in it is never repeated.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("--api-url %s is not a URL like https://api.explo.co", textsafe.Quote(redactURL(raw)))
	}
	// Credentials, a query and a fragment are where a pasted token
	// would sit: the URL is shown without them.
	bare := *u
	bare.User, bare.RawQuery, bare.ForceQuery, bare.Fragment, bare.RawFragment = nil, "", false, "", ""
	shown := bare.String()
	switch {
	case u.User != nil:
		return "", fmt.Errorf("--api-url %s holds credentials; the API token goes in --token-file or $EXPLO_API_TOKEN, never in the URL", textsafe.Quote(shown))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("--api-url %s has a query or fragment; give the base URL only, like https://api.explo.co", textsafe.Quote(shown))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("--api-url %s: http:// would send the API token in clear text; only loopback hosts may use it\ngroupsync: hint: use https://", textsafe.Quote(shown))
		}
	default:
		return "", fmt.Errorf("--api-url %s: the scheme must be https", textsafe.Quote(shown))
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// redactURL hides, in a string that did not parse as a URL, what may
// hold a secret: credentials, a query, a fragment.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + "…"
	}
	at := strings.LastIndex(raw, "@")
	scheme := strings.Index(raw, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return raw
	}
	return raw[:scheme+3] + "xxxxx" + raw[at:]
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiToken reads the API token from --token-file or $EXPLO_API_TOKEN. The
// token is never printed, not even in part. A byte order mark and white
// space around it are not part of it; a token that an HTTP header cannot
// carry is refused before any call.
func (c *Config) apiToken(ctx context.Context, getenv func(string) string) (string, error) {
	if c.TokenFile != "" {
		b, err := readTokenFile(ctx, c.TokenFile)
		if err != nil {
			return "", err
		}
		t := cleanToken(string(b))
		if t == "" {
			return "", fmt.Errorf("--token-file %s is empty", textsafe.Cut(c.TokenFile))
		}
		if err := checkToken(t); err != nil {
			return "", fmt.Errorf("--token-file %s: %w\ngroupsync: hint: the file must hold the token alone, on one line", textsafe.Cut(c.TokenFile), err)
		}
		return t, nil
	}
	if t := cleanToken(getenv("EXPLO_API_TOKEN")); t != "" {
		if err := checkToken(t); err != nil {
			return "", fmt.Errorf("$EXPLO_API_TOKEN: %w", err)
		}
		return t, nil
	}
	return "", errors.New("no API token: set $EXPLO_API_TOKEN or use --token-file PATH")
}

// maxTokenFile bounds what is read of --token-file: a token is a line,
// and /dev/zero or a log named by mistake must not fill the memory.
const maxTokenFile = 16 << 10

// readTokenFile reads the token file, at most maxTokenFile bytes, and
// gives up when ctx is done: a named pipe no one writes to must not keep a
// run from ending at a signal.
func readTokenFile(ctx context.Context, path string) ([]byte, error) {
	type read struct {
		data []byte
		err  error
	}
	done := make(chan read, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			done <- read{err: err}
			return
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
		done <- read{data, err}
	}()
	select {
	case r := <-done:
		switch {
		case r.err != nil:
			return nil, fmt.Errorf("--token-file: %w", r.err)
		case len(r.data) > maxTokenFile:
			return nil, fmt.Errorf("--token-file %s holds more than %d KiB: not a token", textsafe.Cut(path), maxTokenFile>>10)
		}
		return r.data, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("--token-file %s: interrupted while waiting for it to be written", textsafe.Cut(path))
	}
}

func cleanToken(s string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "\uFEFF"))
}

// checkToken refuses a token that holds a byte no token has: a line
// break or another control character, which an HTTP header cannot carry
// (the request would fail before it is sent, again at every retry), or a
// byte beyond ASCII, which a paste from a document brings along. It names
// what and where, never the token.
func checkToken(t string) error {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		what := "a control character"
		switch {
		case c == '\n' || c == '\r':
			what = "a line break"
		case c == '\t':
			what = "a tab"
		case c >= 0x80:
			what = "a character that is not ASCII"
		}
		return fmt.Errorf("the API token holds %s (at byte %d of %d), which a token never does; nothing was sent", what, i+1, len(t))
	}
	return nil
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if x == y {
		return true
	}
	fa, err1 := os.Stat(x)
	fb, err2 := os.Stat(y)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// checkDir makes sure, before any call, that a file can be written at
// path: its folder exists, and a temporary file can be created there and
// removed (as the atomic write will). Otherwise a run would apply
// everything and then fail to say what it did.
func checkDir(path, flag string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%s %s: the folder %s does not exist", flag, textsafe.Cut(path), textsafe.Cut(dir))
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("%s %s is a folder: the report is a file, which would replace it; nothing was sent", flag, textsafe.Cut(path))
	}
	if err := atomicfile.Probe(path); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s %s: cannot write in the folder %s (%v); nothing was sent", flag, textsafe.Cut(path), textsafe.Cut(dir), err)
	}
	return nil
}
