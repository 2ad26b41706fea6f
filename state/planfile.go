package state

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"groupsync/internal/atomicfile"
	"groupsync/reconcile"
)

// SavedPlan is what `plan --out` writes and `apply --plan` applies: the
// desired groups, in manifest order, and the state they were planned
// against. It holds no token.
type SavedPlan struct {
	APIURL string
	// Serial is the state's serial at planning time; apply refuses the
	// plan when the state has moved since.
	Serial int64
	Groups []reconcile.Group
	// API, Refresh, Prune and Only are the flags the plan was made with,
	// which apply uses again: a plan made for a few ids must not take the
	// state's other groups for orphans.
	API          string
	Refresh      bool
	Prune        bool
	PruneAdopted bool
	Only         []string
	// Lines describe the plan's changes ([reconcile.Plan.Lines]): apply
	// refuses the plan when planning again gives others. Nil in a plan
	// saved before groupsync kept them.
	Lines []string
}

type planFile struct {
	Kind          string            `json:"kind"`
	FormatVersion int               `json:"format_version"`
	APIURL        string            `json:"api_url"`
	StateSerial   int64             `json:"state_serial"`
	Groups        []json.RawMessage `json:"groups"`
	Files         []string          `json:"files"`
	Lines         []int             `json:"lines"`
	API           string            `json:"api,omitempty"`
	Refresh       bool              `json:"refresh,omitempty"`
	Prune         bool              `json:"prune,omitempty"`
	PruneAdopted  bool              `json:"prune_adopted,omitempty"`
	Only          []string          `json:"only,omitempty"`
	Changes       []string          `json:"changes,omitempty"`
}

const planKind = "groupsync-plan"

// WritePlan saves p at path.
func WritePlan(path string, p *SavedPlan) error {
	f := planFile{Kind: planKind, FormatVersion: FormatVersion, APIURL: p.APIURL, StateSerial: p.Serial, API: p.API, Refresh: p.Refresh, Prune: p.Prune,
		PruneAdopted: p.PruneAdopted, Only: p.Only, Changes: p.Lines}
	if f.Changes == nil {
		f.Changes = []string{}
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		f.Groups = append(f.Groups, json.RawMessage(encode(&reconcile.Applied{Group: *g}, true)))
		f.Files = append(f.Files, g.Source.File)
		f.Lines = append(f.Lines, g.Source.Line)
	}
	if err := atomicfile.Sweep(path); err != nil {
		return err
	}
	return atomicfile.Write(path, atomicfile.Options{}, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(f)
	})
}

// ReadPlan loads a plan saved by WritePlan.
func ReadPlan(path string) (*SavedPlan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f planFile
	if err := json.Unmarshal(data, &f); err != nil || f.Kind != planKind {
		return nil, fmt.Errorf("%s is not a plan saved by groupsync plan --out", path)
	}
	if f.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s has format version %d, newer than this groupsync understands", path, f.FormatVersion)
	}
	if len(f.Files) != len(f.Groups) || len(f.Lines) != len(f.Groups) {
		return nil, fmt.Errorf("%s is damaged: its group and source lists differ in length", path)
	}
	p := &SavedPlan{APIURL: f.APIURL, Serial: f.StateSerial, Groups: make([]reconcile.Group, len(f.Groups)), API: f.API, Refresh: f.Refresh, Prune: f.Prune,
		PruneAdopted: f.PruneAdopted, Only: f.Only, Lines: f.Changes}
	for i, raw := range f.Groups {
		e, err := decodeRecord(string(raw), "", nil)
		if err != nil {
			return nil, fmt.Errorf("%s: group %d: %w", path, i+1, err)
		}
		p.Groups[i] = e.a.Group
		p.Groups[i].Source = reconcile.Source{File: f.Files[i], Line: f.Lines[i]}
	}
	return p, nil
}
