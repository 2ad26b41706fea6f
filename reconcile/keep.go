package reconcile

import (
	"errors"
	"fmt"
)

// check refuses an answer about another group than id, or with a token
// that another group holds: recording it would give one customer another's
// dashboards.
func (r *run) check(id string, rem Remote) error { return r.checkAs(id, rem, id) }

// checkAs is check for an answer about id whose token the state may hold
// under also (a rename's old id).
func (r *run) checkAs(id string, rem Remote, also string) error {
	if NormalID(rem.ID) != id {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrWrongGroup, rem.ID)
	}
	if rem.Token == "" {
		return errors.New("the answer has no token: nothing of it was recorded")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if holder := r.holder(rem.Token); holder != "" && holder != id && holder != also {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrTokenReused, holder)
	}
	return nil
}

// holder returns the group that holds token. Callers hold r.mu.
func (r *run) holder(token string) string {
	if r.tokens == nil {
		r.tokens = make(map[string]string, len(r.st.Groups))
		for id, a := range r.st.Groups {
			r.tokens[a.Token] = id
		}
	}
	return r.tokens[token]
}

// journal runs fn on the journal, if any; a failure stops the run.
func (r *run) journal(fn func(Journal) error) error {
	if r.Journal == nil {
		return nil
	}
	if err := fn(r.Journal); err != nil {
		err = fmt.Errorf("record state: %w", err)
		r.abort(err)
		return err
	}
	return nil
}

// record keeps a in the state, in the token index and in the journal. A
// record settles any intent on the group.
//
// The journal comes first: an answer it could not keep changes nothing in
// memory either, so that the state saved at the end never claims a token
// it has not recorded, and the intent stays for the next run to learn.
func (r *run) record(res *Result, a *Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.journal(func(j Journal) error { return j.Record(a) }); err != nil {
		return err
	}
	r.put(a)
	delete(r.st.Pending, a.ID)
	if res != nil {
		res.Token, res.EnvTag = a.Token, a.EnvTag
	}
	return nil
}

// put keeps a in the state and the token index. Callers hold r.mu.
func (r *run) put(a *Applied) {
	r.holder("") // build the index before the state changes
	if prev := r.st.Groups[a.ID]; prev != nil && r.tokens[prev.Token] == a.ID {
		delete(r.tokens, prev.Token)
	}
	r.st.Groups[a.ID] = a
	r.tokens[a.Token] = a.ID
}

// move keeps a under its new id, drops the group at from, and points the
// children of from at the new id, as the service does.
func (r *run) move(res *Result, from string, a *Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.journal(func(j Journal) error { return j.Move(from, a) }); err != nil {
		return err
	}
	r.drop(from)
	r.put(a)
	MoveChildren(r.st, from, a.ID)
	delete(r.st.Pending, a.ID)
	delete(r.st.Pending, from)
	if res != nil {
		res.Token, res.EnvTag = a.Token, a.EnvTag
	}
	return nil
}

// MoveChildren points the records of st whose parent is from at to: the
// service moves a renamed customer's children along.
func MoveChildren(st *State, from, to string) {
	for id, g := range st.Groups {
		if g.ParentID() == from {
			moved := *g
			moved.overlay(&Group{Customer: &Customer{Parent: to}}, FieldParent)
			st.Groups[id] = &moved
		}
	}
}

// drop removes id from the state and the token index. Callers hold r.mu.
func (r *run) drop(id string) {
	r.holder("")
	if prev := r.st.Groups[id]; prev != nil && r.tokens[prev.Token] == id {
		delete(r.tokens, prev.Token)
	}
	delete(r.st.Groups, id)
}

// forget drops id from the state, after the service deleted it.
func (r *run) forget(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.journal(func(j Journal) error { return j.Forget(id) }); err != nil {
		return err
	}
	r.drop(id)
	delete(r.st.Pending, id)
	return nil
}

// intend persists in before its call is made.
func (r *run) intend(in *Intent, sync bool) error {
	in.At = r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.journal(func(j Journal) error { return j.Intend(in, sync) }); err != nil {
		return err
	}
	if r.st.Pending == nil {
		r.st.Pending = map[string]*Intent{}
	}
	r.st.Pending[in.Key()] = in
	return nil
}

// settle ends the intent filed under key, whose call did nothing.
func (r *run) settle(key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Pending[key] == nil {
		return nil
	}
	if err := r.journal(func(j Journal) error { return j.Settle(key) }); err != nil {
		return err
	}
	delete(r.st.Pending, key)
	return nil
}

func (r *run) current(id string) *Applied {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Groups[id]
}
