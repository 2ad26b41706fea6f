package cli

import (
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

// withSecrets returns o with a set of secrets for the run and stderr
// scrubbed by it, unless o has them already.
func (o IO) withSecrets() IO {
	if o.secrets == nil {
		o.secrets = explo.NewSecrets()
		o.Stderr = &scrubWriter{w: o.Stderr, secrets: o.secrets}
	}
	return o
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
