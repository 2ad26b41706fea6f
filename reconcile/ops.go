package reconcile

import (
	"context"
	"errors"
	"fmt"
)

// create gets or creates g. When the group already existed, create changed
// nothing: its token is recorded at once, then an update corrects it. The
// intent is journaled first, so that a create whose answer is lost is
// still known as this state's own.
func (r *run) create(res *Result, g *Group) error {
	// Only an API that can read a group back can learn the outcome; with
	// the other, a repeated create finds the group and its token.
	_, learnable := r.API.(Getter)
	if learnable {
		if err := r.intend(&Intent{Op: OpCreate, ID: g.ID}, false); err != nil {
			return err
		}
	}
	at := &attempt{}
	rem, err := r.call(res, at, func(ctx context.Context) (Remote, error) { return r.API.CreateGroup(ctx, g) }, func(rem Remote) error {
		if err := r.check(g.ID, rem); err != nil {
			return err
		}
		now := r.clock.Now()
		if rem.New {
			res.New = &rem.New
			r.learnRoot(g, rem)
			return r.record(res, withOrigin(Merge(nil, g, rem, now), OriginCreated))
		}
		// Found existing: adopted. Even when an earlier attempt's answer
		// was lost, it may have found the group made elsewhere, and only
		// what this state surely made is its own to prune.
		res.New = &rem.New
		res.Action = ActionAdopt
		return r.record(res, &Applied{Group: Group{ID: g.ID}, Token: rem.Token, EnvTag: rem.EnvTag, AppliedAt: now, Origin: OriginAdopted})
	}, nil)
	if err != nil {
		if learnable {
			r.unsettled(res, at, g.ID, err)
		} else {
			res.Unknown = at.uncertain
		}
		return err
	}
	switch {
	case rem.New:
		return nil
	case rem.Found != nil && !Differs(g, rem.Found):
		// The answer shows every managed field as the manifest wants
		// it: the record needs them, not an update.
		return r.record(res, Merge(r.current(g.ID), g, rem, r.clock.Now()))
	}
	return r.update(res, g)
}

// withOrigin sets a's origin and returns it.
func withOrigin(a *Applied, o Origin) *Applied {
	a.Origin = o
	return a
}

// learnRoot keeps the name of the root level: a customer created without
// a level is put at the root, and the answer says the level by name.
func (r *run) learnRoot(g *Group, rem Remote) {
	f := rootField()
	if f == nil || rem.Found == nil || g.Managed.Has(f.Bit) && f.Text(g) != "" || !rem.Found.Managed.Has(f.Bit) {
		return
	}
	if name := f.Text(&rem.Found.Group); name != "" {
		r.mu.Lock()
		if r.st.RootLevel == "" {
			r.st.RootLevel = name
		}
		r.mu.Unlock()
	}
}

// unsettled ends the intent on key after its call failed: a failure the
// service cannot have acted on settles it; otherwise it stays, the group's
// outcome is unknown, and the next run learns it.
func (r *run) unsettled(res *Result, at *attempt, key string, err error) {
	if at.uncertain {
		res.Unknown = true
		return
	}
	if serr := r.settle(key); serr != nil && res.Err == nil {
		res.Err = serr
	}
}

// update sends g's managed fields. A group deleted on the service since it
// was recorded (in Explo's UI, say) is created again, once. An update that
// failed after an attempt the service may have acted on has an unknown
// outcome: the state keeps what it had, and the next run sends it again.
func (r *run) update(res *Result, g *Group) error {
	at := &attempt{}
	_, err := r.call(res, at, func(ctx context.Context) (Remote, error) { return r.API.UpdateGroup(ctx, g) }, func(rem Remote) error {
		if err := r.check(g.ID, rem); err != nil {
			return err
		}
		prev := r.current(g.ID)
		a := Merge(prev, g, rem, r.clock.Now())
		if prev != nil && prev.Token != "" && rem.Token != "" && rem.Token != prev.Token {
			// A token changed outside groupsync: the customer may have
			// been made again by someone else.
			a.Origin = OriginAdopted
		}
		return r.record(res, a)
	}, nil)
	if errors.Is(err, ErrNotFound) && res.Action == ActionUpdate {
		res.Action = ActionCreate
		return r.create(res, g)
	}
	if err != nil && at.uncertain {
		res.Unknown = true
	}
	return err
}

// adopt takes over a group found in the service's list: its token is
// recorded without a call, and an update follows only when it differs.
func (r *run) adopt(res *Result, c *Change) error {
	r.mu.Lock()
	holder := r.holder(c.Current.Token)
	r.mu.Unlock()
	if holder != "" && holder != c.ID {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrTokenReused, holder)
	}
	found := *c.Current
	found.AppliedAt = r.clock.Now()
	found.Origin = OriginAdopted
	if err := r.record(res, &found); err != nil || !c.Update {
		return err
	}
	return r.update(res, c.Desired)
}

// rename gives the group at c.Current's id the desired id, keeping its
// token. A lost answer is learnt by reading the group under its new id.
func (r *run) rename(res *Result, c *Change) error {
	rn, ok := r.API.(Renamer)
	if !ok {
		return errors.New("this API cannot rename")
	}
	g, from, token := c.Desired, c.Current.ID, c.Current.Token
	if err := r.intend(&Intent{Op: OpRename, ID: from, To: g.ID, Token: token}, true); err != nil {
		return err
	}
	at := &attempt{}
	keep := func(rem Remote) error {
		// The token the state holds under the old id is the renamed
		// customer's own.
		if err := r.checkAs(g.ID, rem, from); err != nil {
			return err
		}
		prev := *c.Current
		if cur := r.current(from); cur != nil {
			prev = *cur
		}
		prev.ID = g.ID
		a := Merge(&prev, g, rem, r.clock.Now())
		a.Origin = prev.Origin
		return r.move(res, from, a)
	}
	_, err := r.call(res, at, func(ctx context.Context) (Remote, error) { return rn.RenameGroup(ctx, from, g) }, keep, func() (Remote, bool, error) {
		return r.learnRename(res, from, g.ID, token)
	})
	if errors.Is(err, ErrNotFound) {
		// The old id is gone: renamed by an attempt whose answer was
		// lost, or deleted.
		var rem Remote
		var done bool
		if rem, done, err = r.learnRename(res, from, g.ID, token); err == nil {
			if done {
				return keep(rem)
			}
			err = fmt.Errorf("%q no longer exists on the service, and %q does not either: nothing was renamed", from, g.ID)
		}
	}
	if err != nil {
		r.unsettled(res, at, g.ID, err)
	}
	return err
}

// errRenameBlocked marks a rename that did not happen because another
// customer holds the new id.
var errRenameBlocked = errors.New("not renamed")

// learnRename reads the group under its new id: there with the token it
// had, the rename happened; there with another token while the old id is
// gone, it happened too, and the token was rotated since (in Explo's UI).
func (r *run) learnRename(res *Result, from, to, token string) (Remote, bool, error) {
	a, err := r.get(res, to)
	switch {
	case errors.Is(err, ErrNotFound):
		return Remote{}, false, nil
	case err != nil:
		return Remote{}, false, fmt.Errorf("the rename's answer was lost, and reading %q failed too (the next run learns the outcome): %w", to, err)
	case a.Token != token:
		switch _, err := r.get(res, from); {
		case err == nil:
			return Remote{}, false, fmt.Errorf("%q exists on the service as another customer, and %q still does: %w", to, from, errRenameBlocked)
		case !errors.Is(err, ErrNotFound):
			return Remote{}, false, fmt.Errorf("the rename's answer was lost, and reading %q failed too (the next run learns the outcome): %w", from, err)
		}
	}
	return Remote{ID: a.ID, Token: a.Token, EnvTag: a.EnvTag}, true, nil
}

// get reads one group, under the run's limiter and retries.
func (r *run) get(res *Result, id string) (*Applied, error) {
	getter, ok := r.API.(Getter)
	if !ok {
		return nil, errors.New("this API cannot read a group")
	}
	var got *Applied
	_, err := r.call(res, nil, func(ctx context.Context) (Remote, error) {
		a, err := getter.GetGroup(ctx, id)
		if err != nil {
			return Remote{}, err
		}
		if NormalID(a.ID) != id {
			return Remote{}, fmt.Errorf("%w (%q)", ErrWrongGroup, a.ID)
		}
		if a.Token == "" {
			return Remote{}, errors.New("the answer has no token")
		}
		got = a
		return Remote{ID: a.ID, Token: a.Token, EnvTag: a.EnvTag}, nil
	}, func(Remote) error { return nil }, nil)
	return got, err
}

// delete deletes an owned group that no manifest lists, once reading it
// shows the token the state holds (a delete is by token: a wrong one
// would take another customer) and the service shows no children below
// it. A token changed outside groupsync — rotated in Explo's UI, or the
// customer deleted and made again by someone else — cannot be told apart
// from another customer: the state learns it, counts the customer as
// adopted, and deletes it only when adopted customers may be deleted. A
// 404 means gone only when reading the customer agrees.
func (r *run) delete(res *Result, c *Change) error {
	if c.Gone {
		return r.forget(c.ID)
	}
	d, ok := r.API.(Deleter)
	if !ok {
		return errors.New("this API cannot delete")
	}
	token, gone, err := r.ownToken(res, c.ID, c.PruneAdopted)
	if err != nil || gone {
		return err
	}
	if err := r.noChildren(res, c.ID); err != nil {
		return err
	}
	// A delete whose answer is lost is learnt by reading the customer, so
	// that the state never keeps claiming a deleted customer.
	_, learnable := r.API.(Getter)
	if learnable {
		if err := r.intend(&Intent{Op: OpDelete, ID: c.ID, Token: token}, false); err != nil {
			return err
		}
	}
	at := &attempt{}
	_, err = r.call(res, at, func(ctx context.Context) (Remote, error) { return d.DeleteGroup(ctx, c.ID, token) },
		func(Remote) error { return r.forget(c.ID) }, nil)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound) && learnable:
		// Gone since it was read, or its token changed again: reading
		// it once more says which.
		if _, gone, gerr := r.ownToken(res, c.ID, false); gerr != nil || gone {
			return gerr
		}
		if serr := r.settle(c.ID); serr != nil {
			return serr
		}
		return fmt.Errorf("the service refused the token that reading %q shows (%w): not deleted", c.ID, err)
	case errors.Is(err, ErrHasChildren):
		err = fmt.Errorf("the service refused: %q has children (%w)", c.ID, err)
	}
	if learnable {
		r.unsettled(res, at, c.ID, err)
	}
	return err
}

// ownToken reads the group id from the service before a call that
// destroys or replaces it, and returns the token to send: the state's,
// when the service shows the same. Gone is set, and the group forgotten,
// when the service has no such group. A token the service shows other
// than the state's is learnt (unless another group of the state holds
// it), the group counted as adopted from now on, and returned only when
// adopted groups may be destroyed; otherwise the call is refused. An API
// that cannot read a group gets the state's token.
func (r *run) ownToken(res *Result, id string, adopted bool) (token string, gone bool, err error) {
	cur := r.current(id)
	if cur == nil {
		return "", false, fmt.Errorf("%q is not in the state", id)
	}
	if _, ok := r.API.(Getter); !ok {
		return cur.Token, false, nil
	}
	a, err := r.get(res, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", true, r.forget(id)
	case err != nil:
		return "", false, fmt.Errorf("could not read %q before changing it: %w", id, err)
	case a.Token == cur.Token:
		return cur.Token, false, nil
	}
	if err := r.check(id, Remote{ID: a.ID, Token: a.Token}); err != nil {
		return "", false, err
	}
	learnt := *cur
	learnt.Token, learnt.EnvTag, learnt.Origin = a.Token, keep(a.EnvTag, cur.EnvTag), OriginAdopted
	if err := r.record(res, &learnt); err != nil {
		return "", false, err
	}
	if !adopted {
		return "", false, fmt.Errorf("not deleted: its token on the service is not the one groupsync recorded (rotated in Explo's UI, or the customer was made again elsewhere), so it counts as adopted now; the state has the service's token, and --prune-adopted deletes it")
	}
	return a.Token, false, nil
}

// noChildren refuses to delete id while the service lists children below
// it: under one revision of the API they would go with it, under the
// other the delete is refused.
func (r *run) noChildren(res *Result, id string) error {
	l, ok := r.API.(Lister)
	if !ok {
		return nil
	}
	var children []string
	calls := 0
	err := r.list(l, ListQuery{Parent: id}, &calls, res, func(g *Applied) error {
		children = append(children, g.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("could not list the children of %q before deleting it: %w", id, err)
	}
	if len(children) > 0 {
		return fmt.Errorf("not deleted: the service holds customers below it (%s), which the plan did not know", quoteList(children))
	}
	return nil
}

// rotate gives a group a new token. It reads the group first, so that the
// token it sends is the group's own (a wrong one would kill another
// customer's), and rotates the service's current one when it was rotated
// outside groupsync. The old token dies with the call, so a call whose
// answer is lost is never repeated blindly: reading the group tells
// whether it rotated.
func (r *run) rotate(res *Result, c *Change) error {
	rot, ok := r.API.(Rotator)
	if !ok {
		return errors.New("this API cannot rotate tokens")
	}
	old, gone, err := r.ownToken(res, c.ID, true)
	switch {
	case err != nil:
		return err
	case gone:
		return fmt.Errorf("%q no longer exists on the service: nothing to rotate", c.ID)
	}
	if err := r.intend(&Intent{Op: OpRotate, ID: c.ID, Token: old}, true); err != nil {
		return err
	}
	at := &attempt{}
	keep := func(rem Remote) error {
		if err := r.check(c.ID, rem); err != nil {
			return err
		}
		if rem.Token == old {
			return errors.New("the answer carries the old token: nothing of it was recorded")
		}
		cur := r.current(c.ID)
		return r.record(res, Merge(cur, &cur.Group, rem, r.clock.Now()))
	}
	learn := func() (Remote, bool, error) {
		a, err := r.get(res, c.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			return Remote{}, false, fmt.Errorf("%q no longer exists on the service", c.ID)
		case err != nil:
			return Remote{}, false, fmt.Errorf("the rotation's answer was lost, and reading the customer failed too (the next run learns the new token): %w", err)
		case a.Token == old:
			return Remote{}, false, nil // not rotated: the old token still works
		}
		return Remote{ID: a.ID, Token: a.Token, EnvTag: a.EnvTag}, true, nil
	}
	_, err = r.call(res, at, func(ctx context.Context) (Remote, error) { return rot.RotateToken(ctx, c.ID, old) }, keep, learn)
	if errors.Is(err, ErrNotFound) {
		// The service refused the token it showed a moment ago: read it
		// again, and say what happened rather than guess.
		var rem Remote
		var done bool
		if rem, done, err = learn(); err == nil {
			if done && at.uncertain {
				return keep(rem)
			}
			err = errors.New("the service refused the customer's token (it changed while groupsync rotated it): not rotated; rotate again")
		}
	}
	if err != nil {
		r.unsettled(res, at, c.ID, err)
	}
	return err
}
