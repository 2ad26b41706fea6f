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
	// keyDeleted marks a journal line of a group deleted on the service.
	keyDeleted = "deleted"
)

// entry is one decoded record.
type entry struct {
	a       *reconcile.Applied
	id      string
	deleted bool
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
	return fieldjson.Object(append(m, extra...))
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
	e.a.ID = e.id
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
	case keyDeleted:
		e.deleted = v == "true"
	}
	return nil
}
