package panel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The OpenAPI 3 document of the API, served at GET /api/openapi.json. It
// is built from routeDocs (routedocs.go), one entry per pattern of
// routes(), and a test fails when the two disagree. The JSON schemas of
// bodies are derived by reflection from the Go types handlers encode and
// decode: json tags name the properties, omitempty and omitzero make one
// optional, pointers, slices and maps may be null, and a `doc` tag, where
// present, describes the property. Named struct types become shared
// components. The document's types here are the few parts of OpenAPI
// that Berth uses; the tests check the result with a full implementation.

// audience is who may call a route.
type audience int

const (
	// public routes take no credential.
	public audience = iota
	// admin routes take an admin API key, or an admin user's session or
	// token (DESIGN §8).
	admin
	// user routes take a user's session or personal access token.
	user
	// nodeCaller routes take a node's panel token.
	nodeCaller
)

// routeDoc documents one route of routes().
type routeDoc struct {
	// pattern is exactly as routes() registers it: "METHOD /path/{param}".
	pattern string
	// summary is one line on what the route does.
	summary string
	auth    audience
	// query lists the query parameters.
	query []queryParam
	// body is the request body: a value of the Go type it decodes to, a
	// *openapi3.Schema, or a media for a body that is not JSON; nil for
	// none.
	body any
	// answers maps each success status to its body, given like body; a
	// nil value is an answer without one.
	answers map[int]any
	// errors lists the statuses answered with {"error": "..."} beyond
	// those every route of its kind has (see commonErrors).
	errors []int
	// paged is set for a list that takes ?limit and ?after and names its
	// next page in a Link header (lists.go).
	paged bool
	// idempotent is set for a creating POST that takes an Idempotency-Key
	// header, and answers 409 when the key was used with another request.
	idempotent bool
}

// pageParams are the query parameters of a paged list.
var pageParams = []queryParam{
	{name: "limit", integer: true, doc: "answer a page of at most this many (1 to 1000); without it, the whole list"},
	{name: "after", doc: "the cursor of the page to answer, as the previous page's Link header names it"},
}

// linkHeader documents the Link header of a paged list's answer.
var linkHeader = map[string]header{"Link": {
	Description: `the next page, <path?limit=N&after=CURSOR&...>; rel="next", when there is one`,
	Schema:      &schema{Type: "string"}}}

// queryParam is one query parameter of a route.
type queryParam struct {
	name     string
	doc      string
	required bool
	// integer is set for a whole number; otherwise the value is text.
	integer bool
}

// media is a body that is not JSON, or not only JSON.
type media struct {
	// contentType is its media type; "*/*" is any.
	contentType string
	// schema describes it, when there is anything to say.
	schema *schema
}

// The parts of an OpenAPI 3.0 document that Berth's uses.
type (
	document struct {
		OpenAPI    string                           `json:"openapi"`
		Info       info                             `json:"info"`
		Paths      map[string]map[string]*operation `json:"paths"`
		Components components                       `json:"components"`
	}
	info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	}
	components struct {
		Schemas         map[string]*schema        `json:"schemas"`
		SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
	}
	securityScheme struct {
		Type        string `json:"type"`
		In          string `json:"in,omitempty"`
		Name        string `json:"name,omitempty"`
		Scheme      string `json:"scheme,omitempty"`
		Description string `json:"description"`
	}
	operation struct {
		OperationID string                `json:"operationId"`
		Summary     string                `json:"summary"`
		Security    []map[string][]string `json:"security"`
		Parameters  []parameter           `json:"parameters,omitempty"`
		RequestBody *requestBody          `json:"requestBody,omitempty"`
		Responses   map[string]response   `json:"responses"`
	}
	parameter struct {
		Name        string  `json:"name"`
		In          string  `json:"in"`
		Description string  `json:"description,omitempty"`
		Required    bool    `json:"required"`
		Schema      *schema `json:"schema"`
	}
	requestBody struct {
		Required bool                 `json:"required"`
		Content  map[string]mediaType `json:"content"`
	}
	response struct {
		Description string               `json:"description"`
		Headers     map[string]header    `json:"headers,omitempty"`
		Content     map[string]mediaType `json:"content,omitempty"`
	}
	header struct {
		Description string  `json:"description"`
		Schema      *schema `json:"schema"`
	}
	mediaType struct {
		Schema *schema `json:"schema,omitempty"`
	}
	// schema is a JSON schema, as OpenAPI 3.0 has them.
	schema struct {
		Ref         string             `json:"$ref,omitempty"`
		Type        string             `json:"type,omitempty"`
		Format      string             `json:"format,omitempty"`
		Description string             `json:"description,omitempty"`
		Nullable    bool               `json:"nullable,omitempty"`
		Enum        []string           `json:"enum,omitempty"`
		Minimum     *float64           `json:"minimum,omitempty"`
		Items       *schema            `json:"items,omitempty"`
		Properties  map[string]*schema `json:"properties,omitempty"`
		Required    []string           `json:"required,omitempty"`
		// AdditionalProperties is false or a *schema.
		AdditionalProperties any       `json:"additionalProperties,omitempty"`
		AllOf                []*schema `json:"allOf,omitempty"`
	}
)

// commonErrors are the error statuses every route of its kind may answer:
// 500 always; 401 and 403 for routes that need a credential; 400 when a
// route reads a body, query parameters or path parameters, and 413 when
// it reads a body; 409 when it takes an Idempotency-Key.
func commonErrors(d routeDoc, path string) []int {
	codes := []int{http.StatusInternalServerError}
	if d.auth != public {
		codes = append(codes, http.StatusUnauthorized, http.StatusForbidden)
	}
	if d.body != nil || len(d.query) > 0 || d.paged || strings.Contains(path, "{") {
		codes = append(codes, http.StatusBadRequest)
	}
	if d.body != nil {
		codes = append(codes, http.StatusRequestEntityTooLarge)
	}
	if d.idempotent && !slices.Contains(d.errors, http.StatusConflict) {
		codes = append(codes, http.StatusConflict)
	}
	return codes
}

// The security schemes, by the name the document gives them.
const (
	schemeKey     = "apiKey"
	schemeSession = "session"
	schemeToken   = "token"
	schemeNode    = "nodeToken"
)

// security is what a route of audience a accepts: any one of the schemes.
func security(a audience) []map[string][]string {
	var names []string
	switch a {
	case admin:
		names = []string{schemeKey, schemeSession, schemeToken}
	case user:
		names = []string{schemeSession, schemeToken}
	case nodeCaller:
		names = []string{schemeNode}
	}
	list := []map[string][]string{}
	for _, n := range names {
		list = append(list, map[string][]string{n: {}})
	}
	return list
}

// mustEncodeDocument is the encoded document for mode m. routeDocs is
// fixed at build time, so a failure is a programming error that every
// test run finds.
func mustEncodeDocument(m Mode) []byte {
	doc, err := buildDocument(routeDocs(m), m)
	if err != nil {
		panic("openapi: " + err.Error())
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		panic("openapi: " + err.Error())
	}
	return raw
}

// buildDocument assembles the document of docs.
func buildDocument(docs []routeDoc, m Mode) (*document, error) {
	g := &schemaGen{components: map[string]*schema{}, names: map[string]reflect.Type{}}
	doc := &document{
		OpenAPI: "3.0.3",
		Info: info{
			Title:   "Berth API",
			Version: "1",
			Description: "Berth's panel: the admin API under /api (the seed specification's endpoints and more), " +
				"the client API under /api/client, and sign-in under /auth. Errors are {\"error\": \"...\"}. " +
				"This document gives the status codes of compatibility mode " + strconv.Quote(string(m)) + ".",
		},
		Paths: map[string]map[string]*operation{},
		Components: components{
			Schemas: g.components,
			SecuritySchemes: map[string]securityScheme{
				schemeKey:     {Type: "apiKey", In: "header", Name: "x-api-key", Description: "An admin API key (berth_...)."},
				schemeSession: {Type: "apiKey", In: "cookie", Name: "berth_session", Description: "The session cookie POST /auth/login sets."},
				schemeToken:   {Type: "http", Scheme: "bearer", Description: "A personal access token (berth_pat_...)."},
				schemeNode:    {Type: "http", Scheme: "bearer", Description: "A node's panel token (berth_pnl_...), minted when the node is configured."},
			},
		},
	}
	errSchema := g.schemaOf(reflect.TypeFor[errorBody]())
	for _, d := range docs {
		method, path, ok := strings.Cut(d.pattern, " ")
		if !ok || method == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("route %q: want \"METHOD /path\"", d.pattern)
		}
		if d.summary == "" || len(d.answers) == 0 {
			return nil, fmt.Errorf("route %q needs a summary and at least one answer", d.pattern)
		}
		path, params := pathParams(path)
		op := &operation{
			OperationID: operationID(method, path),
			Summary:     d.summary,
			Security:    security(d.auth),
			Parameters:  params,
			Responses:   map[string]response{},
		}
		query := slices.Clip(d.query)
		if d.paged {
			for _, p := range pageParams {
				if !slices.ContainsFunc(query, func(q queryParam) bool { return q.name == p.name }) {
					query = append(query, p)
				}
			}
		}
		for _, q := range query {
			s := &schema{Type: "string"}
			if q.integer {
				s = &schema{Type: "integer"}
			}
			op.Parameters = append(op.Parameters, parameter{Name: q.name, In: "query", Description: q.doc, Required: q.required, Schema: s})
		}
		if d.idempotent {
			op.Parameters = append(op.Parameters, parameter{Name: idempotencyHeader, In: "header", Schema: &schema{Type: "string"},
				Description: "Makes the create safe to retry: a retry with the same key and body within 24 hours gets the " +
					"first answer again (marked Idempotent-Replayed: true) and creates nothing; the same key with another " +
					"body is a 409. Keys are per credential, 1 to 255 printable ASCII characters."})
		}
		if d.body != nil {
			op.RequestBody = &requestBody{Required: true, Content: g.content(d.body)}
		}
		for status, body := range d.answers {
			r := response{Description: statusText(status)}
			if d.paged && status == http.StatusOK {
				r.Headers = linkHeader
			}
			if body != nil {
				r.Content = g.content(body)
			}
			op.Responses[strconv.Itoa(status)] = r
		}
		for _, status := range slices.Concat(d.errors, commonErrors(d, path)) {
			if _, isAnswer := d.answers[status]; isAnswer {
				if slices.Contains(d.errors, status) {
					return nil, fmt.Errorf("route %q: status %d is both an answer and an error", d.pattern, status)
				}
				continue
			}
			op.Responses[strconv.Itoa(status)] = response{Description: statusText(status),
				Content: map[string]mediaType{"application/json": {Schema: errSchema}}}
		}
		item := doc.Paths[path]
		if item == nil {
			item = map[string]*operation{}
			doc.Paths[path] = item
		}
		method = strings.ToLower(method)
		if item[method] != nil {
			return nil, fmt.Errorf("route %q is documented twice", d.pattern)
		}
		item[method] = op
	}
	if g.err != nil {
		return nil, g.err
	}
	return doc, nil
}

// statusText describes a status for the document.
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return strconv.Itoa(status)
}

// pathParams turns a ServeMux path into the document's, {name...} becoming
// {name}, and lists its parameters.
func pathParams(path string) (string, []parameter) {
	var params []parameter
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
		if name == "" || name == "$" {
			continue
		}
		segs[i] = "{" + name + "}"
		params = append(params, parameter{Name: name, In: "path", Required: true, Schema: &schema{Type: "string"}})
	}
	return strings.Join(segs, "/"), params
}

// operationID names an operation after its method and path, for client
// generators: "patch_api_users_userId".
func operationID(method, path string) string {
	id := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, path)
	for strings.Contains(id, "__") {
		id = strings.ReplaceAll(id, "__", "_")
	}
	return strings.ToLower(method) + "_" + strings.Trim(id, "_")
}

// schemaGen derives JSON schemas from Go types.
type schemaGen struct {
	components map[string]*schema
	// names maps each component's name to its type, to catch two types
	// of one name.
	names map[string]reflect.Type
	err   error
}

// content describes a request or answer body given as routeDoc.body is.
func (g *schemaGen) content(body any) map[string]mediaType {
	switch b := body.(type) {
	case media:
		return map[string]mediaType{b.contentType: {Schema: b.schema}}
	case *schema:
		return map[string]mediaType{"application/json": {Schema: b}}
	}
	return map[string]mediaType{"application/json": {Schema: g.schemaOf(reflect.TypeOf(body))}}
}

// timeType is encoded as an RFC 3339 string.
var timeType = reflect.TypeFor[time.Time]()

// rawType is any JSON value.
var rawType = reflect.TypeFor[json.RawMessage]()

// schemaOf returns the schema of t: a reference to a component for a
// named struct, the schema itself for anything else.
func (g *schemaGen) schemaOf(t reflect.Type) *schema {
	switch {
	case t == timeType:
		return &schema{Type: "string", Format: "date-time"}
	case t == rawType:
		return &schema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schemaOf(t.Elem()))
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := componentName(t)
		if prev, ok := g.names[name]; ok {
			if prev != t {
				g.fail("types %v and %v are both named %q in the document", prev, t, name)
			}
		} else {
			g.names[name] = t // before its fields, which may refer to t
			g.components[name] = g.object(t)
		}
		return &schema{Ref: "#/components/schemas/" + name}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &schema{Type: "string", Format: "byte"}
		}
		// A nil slice is null.
		return &schema{Type: "array", Items: g.schemaOf(t.Elem()), Nullable: t.Kind() == reflect.Slice}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			g.fail("map %v: only string keys make JSON objects", t)
		}
		// A nil map is null.
		return &schema{Type: "object", AdditionalProperties: g.schemaOf(t.Elem()), Nullable: true}
	case reflect.Interface:
		return &schema{}
	case reflect.String:
		return &schema{Type: "string"}
	case reflect.Bool:
		return &schema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return &schema{Type: "integer", Format: "int32"}
	case reflect.Int64:
		return &schema{Type: "integer", Format: "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		zero := 0.0
		return &schema{Type: "integer", Minimum: &zero}
	case reflect.Float32, reflect.Float64:
		return &schema{Type: "number"}
	}
	g.fail("type %v has no JSON schema", t)
	return &schema{}
}

// nullable lets a schema be null too; a reference is wrapped, as OpenAPI
// 3.0 ignores the siblings of a $ref.
func nullable(s *schema) *schema {
	if s.Ref != "" {
		return &schema{Nullable: true, AllOf: []*schema{s}}
	}
	s.Nullable = true
	return s
}

// object is the schema of struct t, its fields as encoding/json encodes
// them: embedded structs' fields promoted, json tags obeyed. No property
// beyond them is allowed, so a test that validates an answer catches a
// field the document lacks.
func (g *schemaGen) object(t reflect.Type) *schema {
	s := &schema{Type: "object", Properties: map[string]*schema{}, AdditionalProperties: false}
	g.addFields(s, t)
	return s
}

func (g *schemaGen) addFields(s *schema, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, optsText, _ := strings.Cut(tag, ",")
		opts := strings.Split(optsText, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.addFields(s, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := g.schemaOf(ft)
		if slices.Contains(opts, "string") {
			p = &schema{Type: "string"}
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			if p.Ref != "" {
				p = &schema{AllOf: []*schema{p}}
			}
			p.Description = doc
		}
		s.Properties[name] = p
		if !slices.Contains(opts, "omitempty") && !slices.Contains(opts, "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
}

func (g *schemaGen) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}

// componentName names a struct type's component: its Go name, capitalized,
// less a View suffix ("userView" is "User").
func componentName(t reflect.Type) string {
	name := strings.TrimSuffix(t.Name(), "View")
	if name == "" {
		name = t.Name()
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// serveOpenAPI answers the document; it needs no credential.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(s.openapi)
	return nil
}
