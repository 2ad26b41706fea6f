package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"groupsync/cli"
	"groupsync/sandbox"
	"groupsync/state"
)

// The randomized invariant tests: each case draws a hierarchy, edits to
// its manifest, flags, a revision of the service, lies and a kill at a
// random point, from a seed it logs, and then checks rules that need no
// expected output — what must never happen. A failure replays with
// -invariant.seed and the case's name.
var (
	invariantSeed  = flag.Uint64("invariant.seed", 0, "seed of the randomized invariant tests (0: a random one, logged)")
	invariantCases = flag.Int("invariant.cases", 0, "cases per randomized invariant test (0: the default, sized for CI)")
)

// cases runs n cases of an invariant test (or -invariant.cases), each with
// its own random source drawn from the logged seed.
func cases(t *testing.T, n int, run func(t *testing.T, rng *rand.Rand)) {
	seed := *invariantSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if *invariantCases > 0 {
		n = *invariantCases
	}
	t.Logf("seed %d (replay: go test -run '%s' -invariant.seed %d)", seed, t.Name(), seed)
	for i := range n {
		t.Run(fmt.Sprintf("case-%03d", i), func(t *testing.T) {
			run(t, rand.New(rand.NewPCG(seed, uint64(i))))
		})
	}
}

var levels = []string{"Organization", "Department", "Team"}

// customer is one customer of a drawn hierarchy.
type customer struct {
	id, level, parent string
	// previous is the id it had, for a rename.
	previous string
}

func (c customer) yaml() string {
	s := fmt.Sprintf("- {id: %s, name: %q, hierarchy_level_name: %s", c.id, "Customer "+c.id, c.level)
	if c.parent != "" {
		s += ", parent_provided_id: " + c.parent
	}
	if c.previous != "" {
		s += ", previous_provided_id: " + c.previous
	}
	return s + "}\n"
}

func yamlOf(cs []customer) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.yaml())
	}
	return b.String()
}

// forest draws up to three levels of customers with fresh ids.
func forest(rng *rand.Rand, next *int) []customer {
	var out []customer
	id := func() string { *next++; return fmt.Sprintf("c%02d", *next) }
	var add func(level int, parent string)
	add = func(level int, parent string) {
		c := customer{id: id(), level: levels[level], parent: parent}
		out = append(out, c)
		if level+1 < len(levels) {
			for range rng.IntN(3) {
				add(level+1, c.id)
			}
		}
	}
	for range 1 + rng.IntN(3) {
		add(0, "")
	}
	return out
}

// at returns the customers of cs at level.
func at(cs []customer, level string) []customer {
	var out []customer
	for _, c := range cs {
		if c.level == level {
			out = append(out, c)
		}
	}
	return out
}

func above(level string) string {
	if i := slices.Index(levels, level); i > 0 {
		return levels[i-1]
	}
	return ""
}

// snapshot copies the state's files, as a kill would leave them.
func snapshot(t *testing.T, e *env) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"state.json", "state.json.journal", "state.json.backup"} {
		if data, err := os.ReadFile(e.path(name)); err == nil {
			files[name] = data
		}
	}
	return files
}

// restore puts back the files of a snapshot, and removes what the killed
// run wrote since.
func restore(t *testing.T, e *env, files map[string][]byte) {
	t.Helper()
	for _, name := range []string{"state.json", "state.json.journal", "state.json.backup"} {
		os.Remove(e.path(name))
		if data, ok := files[name]; ok {
			if err := os.WriteFile(e.path(name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// killAt runs groupsync, and kills it (in effect) when the sandbox holds a
// changing request after the first k: the state's files are taken as they
// are at that instant, the run is stopped, and its files since are thrown
// away. With acted, the held request is acted on first and its answer
// lost. It returns whether the kill happened before the run ended.
func killAt(t *testing.T, e *env, k int, acted bool, args ...string) bool {
	t.Helper()
	when := sandbox.PauseBefore
	if acted {
		when = sandbox.PauseAfter
	}
	e.sb.PauseAfter(k, when)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		e.runCtx(ctx, args...)
	}()
	held := make(chan struct{})
	go func() {
		e.sb.WaitHeld(1)
		close(held)
	}()
	select {
	case <-ended:
		e.sb.Resume(true)
		<-held
		return false
	case <-held:
	}
	// What the run sends from this instant on never arrives, and nothing
	// the service answers reaches it: it is dead.
	e.sb.Sever(true)
	files := snapshot(t, e)
	cancel()
	<-ended
	e.sb.Sever(false)
	restore(t, e, files)
	return true
}

// tokens is the service's token of every customer.
func tokens(sb *sandbox.Server) map[string]string {
	out := map[string]string{}
	for id, g := range sb.Groups() {
		out[id] = g.Token
	}
	return out
}

// stateTokens reads the state's token of every group.
func stateTokens(t *testing.T, e *env) map[string]string {
	t.Helper()
	st, err := state.Read(e.path("state.json"))
	if err != nil {
		t.Fatalf("the state cannot be read: %v", err)
	}
	out := map[string]string{}
	for id, a := range st.Groups {
		out[id] = a.Token
	}
	return out
}

// checkStateTruthful holds the rule that every token the state records is
// the service's for that customer; a token rotated in Explo's UI (stale)
// is the service's only once a refresh or a delete has learnt it.
func checkStateTruthful(t *testing.T, e *env, stale ...string) {
	t.Helper()
	svc := tokens(e.sb)
	for id, tok := range stateTokens(t, e) {
		switch got, ok := svc[id]; {
		case !ok:
			t.Errorf("the state holds %q, which the service does not", id)
		case got != tok && !slices.Contains(stale, id):
			t.Errorf("the state's token of %q is not the service's", id)
		}
	}
}

// Prune, with renames and moves, under both revisions of delete, with
// refreshes, --only, --prune-adopted, tokens rotated in Explo's UI and
// kills at random points: a wanted customer and a customer made elsewhere
// are never deleted, a wanted customer keeps its token, and the state's
// tokens are the service's.
func TestInvariant_PruneNeverTakesWhatMustStay(t *testing.T) {
	cases(t, 150, prunePruneCase)
}

func prunePruneCase(t *testing.T, rng *rand.Rand) {
	e := customerEnv(t)
	e.backoff = time.Millisecond
	next := 0
	initial := forest(rng, &next)
	// Some customers exist before groupsync first runs: it adopts them.
	adopted := map[string]bool{}
	for _, c := range initial {
		if rng.IntN(5) == 0 && c.parent == "" {
			e.sb.Put(sandbox.Group{ID: c.id, Name: "Made elsewhere " + c.id, Level: c.level})
			adopted[c.id] = true
		}
	}
	first := e.write("m0.yaml", yamlOf(initial))
	if _, stderr, code := e.run("apply", "-f", first); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, stderr)
	}
	// Customers made in Explo's UI, below the state's and beside them.
	foreign := map[string]bool{}
	for i := range rng.IntN(3) {
		id := fmt.Sprintf("f%02d", i)
		parents := append(at(initial, levels[0]), at(initial, levels[1])...)
		g := sandbox.Group{ID: id, Name: "Foreign " + id, Level: levels[0]}
		if len(parents) > 0 && rng.IntN(3) > 0 {
			p := parents[rng.IntN(len(parents))]
			g.Parent, g.Level = p.id, levels[slices.Index(levels, p.level)+1]
		}
		e.sb.Put(g)
		foreign[id] = true
	}
	// A token rotated in Explo's UI.
	var stale []string
	if rng.IntN(4) == 0 {
		c := initial[rng.IntN(len(initial))]
		e.sb.Change(c.id, func(g *sandbox.Group) { g.Token = fmt.Sprintf("%048x", rng.Uint64()) })
		stale = append(stale, c.id)
	}
	before := tokens(e.sb)

	// The edit: drops, moves, adds and renames.
	var wanted []customer
	kept := map[string]bool{}
	for _, c := range initial {
		if rng.IntN(3) > 0 {
			wanted = append(wanted, c)
			kept[c.id] = true
		}
	}
	for i := range wanted {
		c := &wanted[i]
		if up := above(c.level); up != "" && rng.IntN(4) == 0 {
			if ps := at(initial, up); len(ps) > 0 {
				c.parent = ps[rng.IntN(len(ps))].id // maybe one that is dropped
			}
		}
		if rng.IntN(6) == 0 && !adopted[c.id] {
			next++
			c.previous, c.id = c.id, fmt.Sprintf("c%02d", next)
		}
	}
	// A renamed parent's children name it by its new id.
	renamed := map[string]string{}
	for _, c := range wanted {
		if c.previous != "" {
			renamed[c.previous] = c.id
		}
	}
	for i := range wanted {
		if to, ok := renamed[wanted[i].parent]; ok {
			wanted[i].parent = to
		}
	}
	for range rng.IntN(3) {
		next++
		c := customer{id: fmt.Sprintf("c%02d", next), level: levels[rng.IntN(len(levels))]}
		if up := above(c.level); up != "" {
			ps := at(initial, up)
			if len(ps) == 0 {
				continue
			}
			c.parent = ps[rng.IntN(len(ps))].id
			if to, ok := renamed[c.parent]; ok {
				c.parent = to
			}
		}
		wanted = append(wanted, c)
	}
	m := e.write("m1.yaml", yamlOf(wanted))
	args := []string{"apply", "-f", m, "--prune", "--concurrency", fmt.Sprint(1 + rng.IntN(8))}
	if rng.IntN(2) == 0 {
		args = append(args, "--refresh")
	}
	pruneAdopted := rng.IntN(3) == 0
	if pruneAdopted {
		args = append(args, "--prune-adopted")
	}
	if rng.IntN(5) == 0 {
		var only []string
		for _, c := range append(slices.Clone(initial), wanted...) {
			if rng.IntN(2) == 0 && !slices.Contains(only, c.id) {
				only = append(only, c.id)
			}
		}
		if len(only) > 0 {
			args = append(args, "--only", strings.Join(only, ","))
		}
	}
	mode := sandbox.DeleteModes[rng.IntN(len(sandbox.DeleteModes))]
	e.sb.SetDeleteChildren(mode)
	t.Logf("delete %s; %s\nbefore:\n%swanted:\n%s", mode, strings.Join(args, " "), yamlOf(initial), yamlOf(wanted))

	killed := false
	if rng.IntN(2) == 0 {
		killed = killAt(t, e, rng.IntN(6), rng.IntN(2) == 0, args...)
	} else {
		e.run(args...)
	}
	_, stderr, code := e.run(args...)
	if killed {
		_, stderr, code = e.run(args...)
	}
	t.Logf("last run: exit %d\n%s", code, stderr)

	after := tokens(e.sb)
	for id := range foreign {
		if _, ok := after[id]; !ok {
			t.Errorf("%q, made in Explo's UI, was deleted", id)
		}
	}
	for _, c := range wanted {
		old := c.id
		if c.previous != "" {
			old = c.previous
		}
		tok, existed := before[old]
		if !existed {
			continue
		}
		got, ok := after[c.id]
		if !ok {
			got, ok = after[old] // not renamed (yet)
		}
		switch {
		case !ok:
			t.Errorf("%q, which the manifests want, was deleted", c.id)
		case got != tok:
			t.Errorf("%q, which the manifests want, has another token now", c.id)
		}
	}
	if !pruneAdopted {
		for id := range adopted {
			if _, ok := after[id]; !ok {
				t.Errorf("%q, adopted, was deleted without --prune-adopted", id)
			}
		}
	}
	checkStateTruthful(t, e, stale...)
}

// Rotate, with its answer lost after the service rotated (a reset, a kill,
// an unreadable answer): the token the state and the report hold is the
// service's once the next run has learnt the outcome, and no token is ever
// lost.
func TestInvariant_RotateNeverLosesAToken(t *testing.T) {
	cases(t, 60, func(t *testing.T, rng *rand.Rand) {
		e := customerEnv(t)
		e.backoff = time.Millisecond
		var cs []customer
		for i := range 2 + rng.IntN(5) {
			cs = append(cs, customer{id: fmt.Sprintf("r%02d", i), level: levels[0]})
		}
		m := e.write("m.yaml", yamlOf(cs))
		if _, stderr, code := e.run("apply", "-f", m); code != 0 {
			t.Fatalf("first apply: exit %d\n%s", code, stderr)
		}
		var only []string
		for _, c := range cs {
			if rng.IntN(2) == 0 {
				only = append(only, c.id)
			}
		}
		if len(only) == 0 {
			only = []string{cs[0].id}
		}
		args := []string{"rotate", "--only", strings.Join(only, ","), "--concurrency", fmt.Sprint(1 + rng.IntN(4))}
		switch rng.IntN(4) {
		case 0:
			killAt(t, e, rng.IntN(len(only)), rng.IntN(2) == 0, args...)
		case 1:
			e.sb.LoseAnswers("/api/refresh_customer_token/", 1+rng.IntN(len(only)))
			e.run(args...)
		case 2:
			e.sb.SetHostile(sandbox.HostileNearJSON)
			e.run(args...)
			e.sb.SetHostile()
		default:
			// The state cannot be written: a folder where its backup goes.
			os.MkdirAll(filepath.Join(e.path("state.json.backup"), "x"), 0o700)
			e.run(args...)
			os.RemoveAll(e.path("state.json.backup"))
		}
		// The End User Group API cannot learn an outcome: an apply with it
		// either finds nothing unknown, or is refused before any call.
		if rng.IntN(2) == 0 {
			var ug strings.Builder
			for _, c := range cs {
				fmt.Fprintf(&ug, "- {id: %s, name: %q}\n", c.id, "Customer "+c.id)
			}
			e.api = "user-group"
			e.sb.ResetStats()
			_, stderr, code := e.run("apply", "-f", e.write("ug.yaml", ug.String()))
			switch {
			case code == 0:
				checkReportMatchesSandbox(t, e, len(cs))
			case code != 1 || e.sb.Stats().Requests != 0 || !strings.Contains(stderr, "by an earlier run did not finish"):
				t.Fatalf("apply --api user-group: exit %d after %d calls\n%s", code, e.sb.Stats().Requests, stderr)
			}
			e.api = "customer"
		}
		// Any command that opens the state learns what was lost first.
		next := []string{"apply", "-f", m}
		if rng.IntN(2) == 0 {
			next = []string{"rotate", "--only", cs[0].id}
		}
		if _, stderr, code := e.run(next...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", next, code, stderr)
		}
		checkStateTruthful(t, e)
		checkReportMatchesSandbox(t, e, len(cs))
	})
}

// A list that lies — two customers' tokens swapped, every customer twice in
// another access group, pages that never end, customers of another access
// group, a hand-edited state where two ids share a token — stops the run
// before any change, and nothing of it is recorded.
func TestInvariant_ALyingListIsNeverRecorded(t *testing.T) {
	lies := []sandbox.Hostile{sandbox.HostileListSwapTokens, sandbox.HostileListDuplicates, sandbox.HostileListEndless, sandbox.HostileListOtherAccessGroup}
	cases(t, 40, func(t *testing.T, rng *rand.Rand) {
		e := customerEnv(t)
		e.backoff = time.Millisecond
		next := 0
		cs := forest(rng, &next)
		if len(cs) < 2 {
			cs = append(cs, customer{id: "extra", level: levels[0]})
		}
		m := e.write("m.yaml", yamlOf(cs))
		if _, stderr, code := e.run("apply", "-f", m); code != 0 {
			t.Fatalf("first apply: exit %d\n%s", code, stderr)
		}
		// Drift the run would correct, and a customer the list would adopt.
		e.sb.Change(cs[0].id, func(g *sandbox.Group) { g.Name = "Changed in the UI" })
		e.sb.Put(sandbox.Group{ID: "adoptable", Name: "On the service", Level: levels[0]})
		wanted := append(slices.Clone(cs), customer{id: "adoptable", level: levels[0]})
		m = e.write("m.yaml", yamlOf(wanted[:len(wanted)-rng.IntN(2)]))
		saved, _ := os.ReadFile(e.path("state.json"))
		lie := lies[rng.IntN(len(lies))]
		e.sb.SetHostile(lie)
		e.sb.ResetStats()
		args := []string{"apply", "-f", m, "--refresh", "--list-limit", "3000"}
		if rng.IntN(2) == 0 {
			args = append(args, "--prune")
		}
		_, stderr, code := e.run(args...)
		if code != 1 || !strings.Contains(stderr, "cannot be trusted") {
			t.Errorf("%s: exit %d, want 1 and the reason\n%s", lie, code, stderr)
		}
		for _, r := range e.sb.Requests() {
			if r.Method != "GET" {
				t.Errorf("%s: a lying list was followed by %s %s", lie, r.Method, r.Path)
			}
		}
		if now, _ := os.ReadFile(e.path("state.json")); string(now) != string(saved) {
			t.Errorf("%s: the state changed", lie)
		}
		e.sb.SetHostile()
		if _, stderr, code := e.run(args...); code != 0 {
			t.Fatalf("honest list: exit %d\n%s", code, stderr)
		}
		checkStateTruthful(t, e)
	})
}

// The list's revisions all read the same: a refresh against each adopts
// and corrects by the same calls.
func TestInvariant_EveryListRevisionReadsTheSame(t *testing.T) {
	for _, style := range sandbox.ListStyles {
		t.Run(style, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{ListStyle: style})
			e.api = cli.APICustomer
			for i := range 30 {
				e.sb.Put(sandbox.Group{ID: fmt.Sprintf("l%02d", i), Name: fmt.Sprintf("L %d", i)})
			}
			var b strings.Builder
			for i := range 30 {
				fmt.Fprintf(&b, "- {id: l%02d, name: L %d}\n", i, i)
			}
			m := e.write("m.yaml", b.String())
			if _, stderr, code := e.run("apply", "-f", m, "--refresh"); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if st := e.sb.Stats(); st.Paths["/api/create_customer/"] != 0 || st.Paths["/api/update_customer/"] != 0 || st.Paths["/v2/api/customers/"] != 1 {
				t.Errorf("%s: %v, want one list call and nothing else", style, st.Paths)
			}
			checkStateTruthful(t, e)
		})
	}
}
