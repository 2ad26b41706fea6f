package state

import (
	"errors"
	"fmt"
	"time"

	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
	"groupsync/internal/flatjson"
	"groupsync/reconcile"
)

// A group's record in the state file, a journal line or a saved plan is one
// JSON object: the managed fields under their names (a field that is absent
// was never applied, which keeps unmanaged fields unmanaged across runs),
// and beside them what groupsync keeps of the group itself.
const (
	keyID      = "user_group_id" // journal lines and plans; in the file the map key is the id
	keyName    = "name"
	keyToken   = "token"
	keyEnvTag  = "api_environment_tag"
	keyApplied = "applied_at"
	keyOrigin  = "origin"
	// keyPrevious is a saved plan's rename: the id the group had before.
	keyPrevious = "previous_provided_id"
	// keyOrphan marks a group the last run found in no manifest.
	keyOrphan = "orphaned"
	// Journal lines only: a group deleted on the service, a group renamed
	// from another id, an intent, and an intent settled.
	keyDeleted = "deleted"
	keyFrom    = "renamed_from"
	keyIntent  = "intent"
	keySettled = "settled"
)

// entry is one decoded record, or journal line.
type entry struct {
	a       *reconcile.Applied
	id      string
	deleted bool
	from    string
	intent  *reconcile.Intent
	settled string
}

// encode writes a's record. withID puts the id inside, as journal lines
// and saved plans need; extra members are appended.
func encode(a *reconcile.Applied, withID bool, extra ...fieldjson.Member) string {
	m := make([]fieldjson.Member, 0, 8+len(extra))
	if withID {
		m = append(m, fieldjson.Member{Key: keyID, Raw: canonjson.Quote(a.ID)})
	}
	if a.Name != "" {
		m = append(m, fieldjson.Member{Key: keyName, Raw: canonjson.Quote(a.Name)})
	}
	m = append(m, fieldjson.Members(&a.Group, ^reconcile.Fields(0), false)...)
	if a.Token != "" {
		m = append(m, fieldjson.Member{Key: keyToken, Raw: canonjson.Quote(a.Token)})
	}
	if a.EnvTag != "" {
		m = append(m, fieldjson.Member{Key: keyEnvTag, Raw: canonjson.Quote(a.EnvTag)})
	}
	m = append(m, fieldjson.Member{Key: keyApplied, Raw: canonjson.Quote(a.AppliedAt.UTC().Format(time.RFC3339Nano))})
	if a.Origin != reconcile.OriginUnknown {
		m = append(m, fieldjson.Member{Key: keyOrigin, Raw: canonjson.Quote(string(a.Origin))})
	}
	if a.Orphan {
		m = append(m, fieldjson.Member{Key: keyOrphan, Raw: "true"})
	}
	if a.Previous != "" {
		m = append(m, fieldjson.Member{Key: keyPrevious, Raw: canonjson.Quote(a.Previous)})
	}
	return fieldjson.Object(append(m, extra...))
}

// encodeIntent writes an intent as a JSON object.
func encodeIntent(in *reconcile.Intent) string {
	m := []fieldjson.Member{{Key: "op", Raw: canonjson.Quote(string(in.Op))}, {Key: keyID, Raw: canonjson.Quote(in.ID)}}
	if in.To != "" {
		m = append(m, fieldjson.Member{Key: "to", Raw: canonjson.Quote(in.To)})
	}
	if in.Token != "" {
		m = append(m, fieldjson.Member{Key: keyToken, Raw: canonjson.Quote(in.Token)})
	}
	m = append(m, fieldjson.Member{Key: "at", Raw: canonjson.Quote(in.At.UTC().Format(time.RFC3339Nano))})
	return fieldjson.Object(m)
}

// decodeIntent reads an intent written by encodeIntent.
func decodeIntent(raw string) (*reconcile.Intent, error) {
	in := &reconcile.Intent{}
	err := flatjson.Object(raw, func(k, v string) error {
		var s string
		if k == "op" || k == keyID || k == "to" || k == keyToken || k == "at" {
			var err error
			if s, err = flatjson.String(v); err != nil {
				return fmt.Errorf("intent %s: want a string", k)
			}
		}
		switch k {
		case "op":
			in.Op = reconcile.Op(s)
		case keyID:
			in.ID = reconcile.NormalID(s)
		case "to":
			in.To = reconcile.NormalID(s)
		case keyToken:
			in.Token = s
		case "at":
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("intent at: %w", err)
			}
			in.At = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case in.ID == "":
		return nil, errors.New("an intent without a user_group_id")
	case in.Op != reconcile.OpCreate && in.Op != reconcile.OpRotate && in.Op != reconcile.OpRename && in.Op != reconcile.OpDelete:
		return nil, fmt.Errorf("an intent of unknown kind %q", in.Op)
	case in.Op == reconcile.OpRename && in.To == "":
		return nil, errors.New("a rename intent without its new id")
	}
	return in, nil
}

// fields maps a record's keys to the managed fields they hold.
var fieldsByName = func() map[string]*reconcile.Field {
	m := map[string]*reconcile.Field{}
	for _, f := range reconcile.Table {
		m[f.Name] = f
	}
	return m
}()

// decodeRecord reads one record; id is the map key it was found under, empty for
// journal lines and plans, whose records carry their id. Keys it does not
// know are skipped, as a later version's additions.
func decodeRecord(raw string, id string, in fieldjson.Interner) (*entry, error) {
	e := &entry{a: &reconcile.Applied{}, id: id}
	err := flatjson.Object(raw, func(k, v string) error {
		if f := fieldsByName[k]; f != nil {
			if err := fieldjson.Set(f, &e.a.Group, v, in); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			return nil
		}
		return e.set(k, v, in)
	})
	if errors.Is(err, flatjson.ErrSyntax) {
		return nil, errors.New("not a JSON object")
	}
	if err != nil {
		return nil, err
	}
	e.id = reconcile.NormalID(e.id)
	e.a.ID = e.id
	// A field naming another group holds an id, normalised as ids are.
	for _, f := range reconcile.Table {
		if f.Ref && e.a.Managed.Has(f.Bit) {
			f.SetText(&e.a.Group, reconcile.NormalID(f.Text(&e.a.Group)))
		}
	}
	return e, nil
}

// set reads one key that is not a managed field.
func (e *entry) set(k, v string, in fieldjson.Interner) error {
	str := func(dst *string) error {
		s, err := flatjson.String(v)
		if err != nil {
			return fmt.Errorf("%s: want a string", k)
		}
		*dst = s
		return nil
	}
	switch k {
	case keyID:
		if e.id == "" {
			return str(&e.id)
		}
	case keyName:
		return str(&e.a.Name)
	case keyToken:
		return str(&e.a.Token)
	case keyEnvTag:
		err := str(&e.a.EnvTag)
		e.a.EnvTag = in.Get(e.a.EnvTag)
		return err
	case keyApplied:
		var s string
		if err := str(&s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		e.a.AppliedAt = t
	case keyOrigin:
		var o string
		if err := str(&o); err != nil {
			return err
		}
		e.a.Origin = reconcile.Origin(o)
	case keyOrphan:
		e.a.Orphan = v == "true"
	case keyPrevious:
		if err := str(&e.a.Previous); err != nil {
			return err
		}
		e.a.Previous = reconcile.NormalID(e.a.Previous)
	case keyDeleted:
		e.deleted = v == "true"
	case keyFrom:
		if err := str(&e.from); err != nil {
			return err
		}
		e.from = reconcile.NormalID(e.from)
	case keyIntent:
		in, err := decodeIntent(v)
		if err != nil {
			return err
		}
		e.intent = in
	case keySettled:
		if err := str(&e.settled); err != nil {
			return err
		}
		e.settled = reconcile.NormalID(e.settled)
	}
	return nil
}
