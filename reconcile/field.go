package reconcile

import "slices"

// Type is the shape of a managed field's value. Everything that reads or
// writes fields — manifests, the state file, the API's bodies and answers,
// plans — handles values by their Type, so that a new field of an existing
// Type is one entry in [Table].
type Type uint8

const (
	// TypeBool is true or false; empty is false.
	TypeBool Type = iota
	// TypeIDs maps keys to ids kept as text: a mapping's schema id to data
	// source id. Numbers are taken as written.
	TypeIDs
	// TypeJSON maps keys to JSON values, kept as canonical JSON text.
	TypeJSON
	// TypeSet is a set of strings, sorted and without duplicates.
	TypeSet
	// TypeName is one name; empty means the field's [Field.Empty].
	TypeName
)

// Field describes one managed field: its name wherever groupsync reads or
// writes it, the shape of its value, and which API knows it.
type Field struct {
	Bit Fields
	// Name is the field's name in manifests (a CSV column, a YAML key), in
	// the state file, in plans and in request bodies.
	Name string
	// Answer is the key under which the Customer API's customer object
	// reports the field; empty when it does not report it. With
	// AnswerOptional, only some revisions report it, and an answer without
	// it leaves the field unknown.
	Answer         string
	AnswerOptional bool
	Type           Type
	// Customer is set for the fields only the Customer API knows.
	Customer bool
	// Ref is set for a field that names another customer by its id: it is
	// checked and normalised as an id is.
	Ref bool
	// Root is set for the hierarchy level, whose empty value is the
	// service's root level (which the service reports by its name).
	Root bool
	// Empty says what an empty TypeName value means, for plans.
	Empty string
	// Key names what the keys of a TypeIDs or TypeJSON field are, for
	// messages.
	Key string

	slot func(g *Group, write bool) any
}

// Table is every managed field, in the order plans, bodies and state files
// show them.
var Table = []*Field{
	{Bit: FieldIsDemo, Name: "is_demo_group", Answer: "is_demo_group", Type: TypeBool,
		slot: func(g *Group, _ bool) any { return &g.IsDemo }},
	{Bit: FieldMapping, Name: "mapping", Answer: "parent_schema_datasource_mapping", Type: TypeIDs, Key: "schema id",
		slot: func(g *Group, _ bool) any { return &g.Mapping }},
	{Bit: FieldProperties, Name: "properties", Answer: "properties", Type: TypeJSON, Key: "key",
		slot: func(g *Group, _ bool) any { return &g.Properties }},
	{Bit: FieldEmails, Name: "emails", Answer: "emails", Type: TypeSet, Customer: true,
		slot: customerSlot(func(c *Customer) any { return &c.Emails })},
	{Bit: FieldTags, Name: "group_tags", Answer: "group_tags", Type: TypeSet, Customer: true,
		slot: customerSlot(func(c *Customer) any { return &c.Tags })},
	{Bit: FieldLevel, Name: "hierarchy_level_name", Answer: "hierarchy_level", Type: TypeName, Customer: true, Root: true,
		Empty: "the root level", slot: customerSlot(func(c *Customer) any { return &c.Level })},
	{Bit: FieldParent, Name: "parent_provided_id", Answer: "parent_provided_id", AnswerOptional: true, Type: TypeName, Customer: true, Ref: true,
		Empty: "no parent", slot: customerSlot(func(c *Customer) any { return &c.Parent })},
}

// customerSlot reaches a field of a group's Customer, which is only
// allocated when something is written to it: a group of the End User Group
// API carries none.
func customerSlot(field func(*Customer) any) func(*Group, bool) any {
	var zero Customer
	return func(g *Group, write bool) any {
		if g.Customer == nil {
			if !write {
				return field(&zero)
			}
			g.Customer = &Customer{}
		}
		return field(g.Customer)
	}
}

func customerFields() Fields {
	var f Fields
	for _, d := range Table {
		if d.Customer {
			f |= d.Bit
		}
	}
	return f
}

// rootField is the field whose empty value is the root level.
func rootField() *Field { return findField(func(f *Field) bool { return f.Root }) }

// FieldNamed returns the field of that name, or nil.
func FieldNamed(name string) *Field { return findField(func(f *Field) bool { return f.Name == name }) }

// FieldOf returns the field of bit, or nil.
func FieldOf(bit Fields) *Field { return findField(func(f *Field) bool { return f.Bit == bit }) }

func findField(match func(*Field) bool) *Field {
	for _, f := range Table {
		if match(f) {
			return f
		}
	}
	return nil
}

// Bool, Pairs, List and Text read the field from g; each is for the
// field's Type only.
func (f *Field) Bool(g *Group) bool     { return *f.slot(g, false).(*bool) }
func (f *Field) Pairs(g *Group) Pairs   { return *f.slot(g, false).(*Pairs) }
func (f *Field) List(g *Group) []string { return *f.slot(g, false).(*[]string) }
func (f *Field) Text(g *Group) string   { return *f.slot(g, false).(*string) }

// SetBool, SetPairs, SetList and SetText write the field to g and mark it
// managed.
func (f *Field) SetBool(g *Group, v bool)     { *f.slot(g, true).(*bool) = v; g.Managed |= f.Bit }
func (f *Field) SetPairs(g *Group, v Pairs)   { *f.slot(g, true).(*Pairs) = v; g.Managed |= f.Bit }
func (f *Field) SetList(g *Group, v []string) { *f.slot(g, true).(*[]string) = v; g.Managed |= f.Bit }
func (f *Field) SetText(g *Group, v string)   { *f.slot(g, true).(*string) = v; g.Managed |= f.Bit }

// Same reports whether a and b hold the same value of f.
func (f *Field) Same(a, b *Group) bool {
	switch f.Type {
	case TypeBool:
		return f.Bool(a) == f.Bool(b)
	case TypeIDs, TypeJSON:
		return f.Pairs(a).Equal(f.Pairs(b))
	case TypeSet:
		return slices.Equal(f.List(a), f.List(b))
	}
	return f.Text(a) == f.Text(b)
}

// Copy sets f of dst to its value in src, and marks it managed.
func (f *Field) Copy(dst, src *Group) {
	switch f.Type {
	case TypeBool:
		f.SetBool(dst, f.Bool(src))
	case TypeIDs, TypeJSON:
		f.SetPairs(dst, f.Pairs(src))
	case TypeSet:
		f.SetList(dst, f.List(src))
	default:
		f.SetText(dst, f.Text(src))
	}
}

// IsEmpty reports whether f of g holds its empty value: false, no keys, no
// members, no name.
func (f *Field) IsEmpty(g *Group) bool {
	switch f.Type {
	case TypeBool:
		return !f.Bool(g)
	case TypeIDs, TypeJSON:
		return len(f.Pairs(g)) == 0
	case TypeSet:
		return len(f.List(g)) == 0
	}
	return f.Text(g) == ""
}
