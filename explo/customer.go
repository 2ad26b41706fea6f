package explo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"groupsync/internal/canonjson"
	"groupsync/internal/flatjson"
	"groupsync/reconcile"
)

// Paths of the Customer API, below the base URL.
const (
	PathCreateCustomer  = "/api/create_customer/"
	PathUpdateCustomer  = "/api/update_customer/"
	PathGetCustomer     = "/api/get_customer/"
	PathDeleteCustomer  = "/api/delete_customer/"
	PathRotateToken     = "/api/refresh_customer_token/"
	PathListCustomers   = "/v2/api/customers/"
	ListPageSize        = 1000
	customerFieldsKnown = reconcile.FieldIsDemo | reconcile.FieldMapping | reconcile.FieldProperties |
		reconcile.FieldEmails | reconcile.FieldTags | reconcile.FieldLevel
)

// Customers is the Customer API: get-or-create, partial update, get,
// list, delete and token rotation.
type Customers struct{ c *Client }

var (
	_ reconcile.API     = (*Customers)(nil)
	_ reconcile.Lister  = (*Customers)(nil)
	_ reconcile.Deleter = (*Customers)(nil)
	_ reconcile.Rotator = (*Customers)(nil)
)

// Customers returns the Customer API of c.
func (c *Client) Customers() *Customers { return &Customers{c: c} }

// CustomerBody is the body of create_customer and update_customer: the
// managed fields only, since an update is partial.
type CustomerBody struct {
	ProvidedID  string          `json:"provided_id"`
	Name        string          `json:"name"`
	IsDemoGroup *bool           `json:"is_demo_group,omitempty"`
	Mapping     json.RawMessage `json:"mapping,omitempty"`
	Properties  json.RawMessage `json:"properties,omitempty"`
	Emails      *[]string       `json:"emails,omitempty"`
	GroupTags   *[]string       `json:"group_tags,omitempty"`
	Level       string          `json:"hierarchy_level_name,omitempty"`
	Parent      string          `json:"parent_provided_id,omitempty"`
}

// NewCustomerBody returns the body that sends g's managed fields and no
// others. An empty level or parent is not sent: the service then keeps the
// root level, or no parent.
func NewCustomerBody(g *reconcile.Group) CustomerBody {
	b := CustomerBody{ProvidedID: g.ID, Name: g.Name}
	b.IsDemoGroup, b.Mapping, b.Properties = commonFields(g)
	c := g.Cust()
	if g.Managed.Has(reconcile.FieldEmails) {
		b.Emails = nonNil(c.Emails)
	}
	if g.Managed.Has(reconcile.FieldTags) {
		b.GroupTags = nonNil(c.Tags)
	}
	if g.Managed.Has(reconcile.FieldLevel) {
		b.Level = c.Level
	}
	if g.Managed.Has(reconcile.FieldParent) {
		b.Parent = c.Parent
	}
	return b
}

func nonNil(s []string) *[]string {
	if s == nil {
		s = []string{}
	}
	return &s
}

// Customer is a customer as the service returns it.
type Customer struct {
	Token          string          `json:"token"`
	Name           string          `json:"name"`
	ProvidedID     string          `json:"provided_id"`
	IsDemoGroup    bool            `json:"is_demo_group"`
	Emails         []string        `json:"emails"`
	GroupTags      []string        `json:"group_tags"`
	Properties     json.RawMessage `json:"properties"`
	AccessGroup    string          `json:"access_group"`
	Mapping        json.RawMessage `json:"parent_schema_datasource_mapping"`
	HierarchyLevel string          `json:"hierarchy_level"`
}

type customerResponse struct {
	Success     Flag      `json:"success"`
	NewCustomer bool      `json:"new_customer"`
	Customer    *Customer `json:"customer"`
}

func (r *customerResponse) ok() bool { return bool(r.Success) }

// CreateGroup calls create_customer.
func (cs *Customers) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return cs.customer(ctx, request{method: http.MethodPost, path: PathCreateCustomer, body: NewCustomerBody(g), id: g.ID})
}

// UpdateGroup calls update_customer with the managed fields.
func (cs *Customers) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return cs.customer(ctx, request{method: http.MethodPost, path: PathUpdateCustomer, body: NewCustomerBody(g), id: g.ID})
}

// RotateToken calls refresh_customer_token.
func (cs *Customers) RotateToken(ctx context.Context, id, token string) (reconcile.Remote, error) {
	body := map[string]string{"current_token": token}
	return cs.customer(ctx, request{method: http.MethodPost, path: PathRotateToken, body: body, id: id, secrets: []string{token}})
}

// DeleteGroup calls delete_customer, which also deletes every customer
// below it.
func (cs *Customers) DeleteGroup(ctx context.Context, id, token string) (reconcile.Remote, error) {
	var r customerResponse
	body := map[string]string{"current_token": token}
	code, err := cs.c.do(ctx, request{method: http.MethodDelete, path: PathDeleteCustomer, body: body, id: id, secrets: []string{token}}, &r)
	return reconcile.Remote{Code: code}, err
}

// GetGroup calls get_customer and returns the customer as the service
// holds it.
func (cs *Customers) GetGroup(ctx context.Context, id string) (*reconcile.Applied, error) {
	var r customerResponse
	code, err := cs.c.do(ctx, request{method: http.MethodPost, path: PathGetCustomer, body: map[string]string{"provided_id": id}, id: id}, &r)
	if err != nil {
		return nil, err
	}
	if r.Customer == nil {
		return nil, &Error{Status: code, GroupID: id, Message: "the answer has no customer"}
	}
	cs.c.secrets.Add(r.Customer.Token)
	return applied(r.Customer)
}

func (cs *Customers) customer(ctx context.Context, req request) (reconcile.Remote, error) {
	var r customerResponse
	code, err := cs.c.do(ctx, req, &r)
	if err != nil {
		return reconcile.Remote{}, err
	}
	if r.Customer == nil {
		return reconcile.Remote{}, &Error{Status: code, GroupID: req.id, Message: "the answer has no customer"}
	}
	c := r.Customer
	cs.c.secrets.Add(c.Token)
	return reconcile.Remote{ID: c.ProvidedID, New: r.NewCustomer, Token: c.Token, EnvTag: c.AccessGroup, Code: code}, nil
}

// listResponse accepts both documented shapes of the list: total_count
// with results.customers, and an older count, next and previous.
type listResponse struct {
	Success    *Flag           `json:"success"`
	TotalCount *int            `json:"total_count"`
	Count      *int            `json:"count"`
	Next       *string         `json:"next"`
	Results    json.RawMessage `json:"results"`
}

func (r *listResponse) ok() bool { return r.Success == nil || bool(*r.Success) }

func (r *listResponse) customers() ([]Customer, error) {
	var list []Customer
	if len(r.Results) > 0 && r.Results[0] == '[' {
		return list, json.Unmarshal(r.Results, &list)
	}
	var wrapped struct {
		Customers []Customer `json:"customers"`
	}
	err := json.Unmarshal(r.Results, &wrapped)
	return wrapped.Customers, err
}

// ListGroups reads one page of the customers the token can see. It asks
// for pages of 1,000 under both spellings of the parameter, and decides
// whether another page follows from the page's length and the total,
// never from next alone: a service that keeps pointing further must not
// keep a run going.
func (cs *Customers) ListGroups(ctx context.Context, q reconcile.ListQuery) (reconcile.ListPage, error) {
	size := strconv.Itoa(ListPageSize)
	v := url.Values{"page": {strconv.Itoa(max(q.Page, 1))}, "page_size": {size}, "pageSize": {size}}
	if q.Parent != "" {
		v.Set("parent_provided_id", q.Parent)
	}
	var r listResponse
	code, err := cs.c.do(ctx, request{method: http.MethodGet, path: PathListCustomers, query: v}, &r)
	page := reconcile.ListPage{Code: code}
	if err != nil {
		return page, err
	}
	list, err := r.customers()
	if err != nil {
		return page, &Error{Status: code, Kind: reconcile.ErrNotAPI, Message: "the list is not the documented JSON"}
	}
	tokens := make([]string, len(list))
	for i := range list {
		tokens[i] = list[i].Token
	}
	cs.c.secrets.Add(tokens...)
	for i := range list {
		a, err := applied(&list[i])
		if err != nil {
			return page, &Error{Status: code, GroupID: list[i].ProvidedID, Message: err.Error()}
		}
		page.Groups = append(page.Groups, *a)
	}
	total := r.TotalCount
	if total == nil {
		total = r.Count
	}
	full := len(list) >= ListPageSize
	switch {
	case total != nil:
		page.More = full && max(q.Page, 1)*ListPageSize < *total
	case r.Next != nil || r.Count != nil:
		page.More = full && r.Next != nil
	default:
		page.More = full
	}
	return page, nil
}

// applied converts a customer of the service into reconcile's record of
// it, with the fields the service reports (not its parent, which it does
// not show).
func applied(c *Customer) (*reconcile.Applied, error) {
	a := &reconcile.Applied{Token: c.Token, EnvTag: c.AccessGroup}
	a.ID, a.Name, a.IsDemo = c.ProvidedID, c.Name, c.IsDemoGroup
	a.Managed = customerFieldsKnown
	var err error
	if a.Mapping, err = pairs(c.Mapping, mappingValue); err != nil {
		return nil, err
	}
	if a.Properties, err = pairs(c.Properties, canonjson.Canonical); err != nil {
		return nil, err
	}
	a.Customer = &reconcile.Customer{
		Emails: reconcile.SortSet(append([]string(nil), c.Emails...)),
		Tags:   reconcile.SortSet(append([]string(nil), c.GroupTags...)),
		Level:  c.HierarchyLevel,
	}
	return a, nil
}

// mappingValue reads a data source id: a string, or a number as written.
func mappingValue(raw string) (string, error) {
	if raw != "" && raw[0] == '"' {
		return flatjson.String(raw)
	}
	return raw, nil
}

func pairs(raw json.RawMessage, conv func(string) (string, error)) (reconcile.Pairs, error) {
	out := reconcile.Pairs{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	err := flatjson.Object(string(raw), func(k, v string) error {
		c, err := conv(v)
		out = append(out, reconcile.Pair{Key: k, Value: c})
		return err
	})
	return reconcile.SortPairs(out), err
}
