package cli

import (
	"bytes"
	"io"

	"groupsync/explo"
	"groupsync/reconcile"
)

// A run has one set of secrets, [explo.Secrets]: the API token, the tokens
// of the state (registered when it is opened) and every token the client
// meets in an answer (the client adds them). The client scrubs its
// messages with it; every byte the run writes to stderr passes through it
// too, as a last line of defence.

// scrubWriter writes what it is given to w without the run's secrets.
// Each write is scrubbed whole; printf and Main write whole lines.
type scrubWriter struct {
	w       io.Writer
	secrets *explo.Secrets
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, s.secrets.Scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lineScrubWriter writes to w line by line, each line without the run's
// secrets: stdout is written in chunks (a buffered plan), which may cut a
// secret in two, and the lines are whole. Flush writes a last line that
// has no line break.
type lineScrubWriter struct {
	w       io.Writer
	secrets *explo.Secrets
	partial []byte
}

func (s *lineScrubWriter) Write(p []byte) (int, error) {
	end := bytes.LastIndexByte(p, '\n')
	if end < 0 {
		s.partial = append(s.partial, p...)
		return len(p), nil
	}
	lines := string(append(s.partial, p[:end+1]...))
	s.partial = append(s.partial[:0], p[end+1:]...)
	if _, err := io.WriteString(s.w, s.secrets.Scrub(lines)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is left of the last line.
func (s *lineScrubWriter) Flush() error {
	if len(s.partial) == 0 {
		return nil
	}
	_, err := io.WriteString(s.w, s.secrets.Scrub(string(s.partial)))
	s.partial = nil
	return err
}

// withSecrets returns o with a set of secrets for the run, and stderr and
// stdout scrubbed by it, unless o has them already; flush ends stdout's
// last line.
func (o IO) withSecrets() (IO, func()) {
	if o.secrets != nil {
		return o, func() {}
	}
	o.secrets = explo.NewSecrets()
	o.Stderr = &scrubWriter{w: o.Stderr, secrets: o.secrets}
	out := &lineScrubWriter{w: o.Stdout, secrets: o.secrets}
	if o.Stdout == nil {
		out.w = io.Discard
	}
	o.Stdout = out
	return o, func() { out.Flush() }
}

// keepSecret adds secrets to the run's set.
func (o IO) keepSecret(secrets ...string) {
	if o.secrets != nil {
		o.secrets.Add(secrets...)
	}
}

// keepTokens adds the tokens of a state to the run's set when it is
// opened: an answer of the service may echo any of them.
func (o IO) keepTokens(st *reconcile.State) {
	if st == nil || o.secrets == nil {
		return
	}
	tokens := make([]string, 0, len(st.Groups))
	for _, a := range st.Groups {
		tokens = append(tokens, a.Token)
	}
	o.secrets.Add(tokens...)
}

// shareSecrets makes the client scrub its messages with the run's set,
// and add to it every token it meets.
func (o IO) shareSecrets(c *explo.Client) {
	if o.secrets != nil {
		c.UseSecrets(o.secrets)
	}
}
