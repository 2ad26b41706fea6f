package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Learnt is what reading the service told of an intent left pending.
type Learnt struct {
	Intent *Intent
	// Outcome says what happened, for people.
	Outcome string
}

// Resolve learns the outcome of every intent st holds, left by a run whose
// answer was lost (a timeout, a reset, a kill, a failed write), by reading
// each group from the service, and records what it finds: a token rotated
// or a group created or renamed is recorded, an intent whose call did
// nothing is settled. It returns what it learnt, or an error when the
// service could not tell; nothing else is called.
func (a *Applier) Resolve(ctx context.Context, st *State) ([]Learnt, error) {
	if len(st.Pending) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(st.Pending))
	for k := range st.Pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r, finish := a.start(ctx, st)
	defer finish()
	var out []Learnt
	for _, k := range keys {
		in := st.Pending[k]
		outcome, err := r.resolve(in)
		if err != nil {
			if cause := r.cause(ctx); cause != nil {
				return out, cause
			}
			return out, fmt.Errorf("could not learn the outcome of the %s of %q that an earlier run left unfinished: %w", in.Op, in.Key(), err)
		}
		out = append(out, Learnt{Intent: in, Outcome: outcome})
	}
	return out, nil
}

func (r *run) resolve(in *Intent) (string, error) {
	var res Result
	switch in.Op {
	case OpRename:
		return r.resolveRename(&res, in)
	}
	a, err := r.get(&res, in.ID)
	switch {
	case errors.Is(err, ErrNotFound) && in.Op == OpDelete:
		return "it was deleted, and the state forgets it", r.forget(in.ID)
	case errors.Is(err, ErrNotFound):
		if err := r.settle(in.Key()); err != nil {
			return "", err
		}
		if in.Op == OpCreate {
			return "it was not created", nil
		}
		return "the customer no longer exists", nil
	case err != nil:
		return "", err
	case in.Op == OpDelete:
		return "it was not deleted", r.settle(in.Key())
	}
	cur := r.current(in.ID)
	switch {
	case in.Op == OpRotate && a.Token == in.Token:
		return "it was not rotated: the token is unchanged", r.settle(in.Key())
	case in.Op == OpCreate && cur != nil && cur.Token == a.Token:
		return "it was created, and is recorded", r.settle(in.Key())
	}
	if err := r.check(in.ID, Remote{ID: in.ID, Token: a.Token}); err != nil {
		return "", err
	}
	learnt := &Applied{Group: Group{ID: in.ID}, Origin: OriginAdopted}
	if cur != nil {
		c := *cur
		learnt = &c
	}
	learnt.Token, learnt.EnvTag, learnt.AppliedAt = a.Token, keep(a.EnvTag, learnt.EnvTag), r.clock.Now()
	if err := r.record(nil, learnt); err != nil {
		return "", err
	}
	if in.Op == OpRotate {
		return "it was rotated: the new token is recorded", nil
	}
	return "it exists: its token is recorded, and the plan corrects its fields", nil
}

// resolveRename reads the group under its new id: there with its token,
// the rename happened.
func (r *run) resolveRename(res *Result, in *Intent) (string, error) {
	rem, done, err := r.learnRename(res, in.ID, in.To, in.Token)
	switch {
	case errors.Is(err, errRenameBlocked):
		return fmt.Sprintf("it was not renamed: %q is another customer's id", in.To), r.settle(in.Key())
	case err != nil:
		return "", err
	}
	if !done {
		return "it was not renamed", r.settle(in.Key())
	}
	prev := r.current(in.ID)
	moved := &Applied{Group: Group{ID: in.To}, Origin: OriginAdopted}
	if prev != nil {
		c := *prev
		moved = &c
		moved.ID = in.To
	}
	moved.Token, moved.EnvTag, moved.AppliedAt = rem.Token, keep(rem.EnvTag, moved.EnvTag), r.clock.Now()
	return "it was renamed, and the state follows", r.move(nil, in.ID, moved)
}
