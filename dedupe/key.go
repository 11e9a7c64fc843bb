// Package dedupe decides which crashes are the same bug. It turns a parsed
// crash (symbolize.Trace) into a versioned bucket key that survives
// rebuilds (release, dev, ASan; legacy or v0 mangling; line shifts), groups
// traces by key, and, as a second tier, measures how similar two traces are
// and suggests merges between buckets with an explanation. It never merges
// buckets on its own.
//
// Everything here is a pure function over symbolize types; the one outside
// input, mapping a panic location to its function through a binary's debug
// info, comes in through the SiteResolver interface.
package dedupe

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/fuzztriage/triage/crashkind"

	"github.com/fuzztriage/triage/symbolize"
)

// KeyVersion is the version of the key's rules. Bucket ids carry it
// ("v1-..."); anything that changes the key of an existing trace bumps it.
const KeyVersion = 1

// BucketID is a short stable name of a bucket: the key version and a hash of
// the key's string form, e.g. "v1-3f2a9c0d51e7".
type BucketID string

// Key is what makes two crashes one bug. Only the fields rendered by String
// are part of the key; SiteFrom is evidence for people.
type Key struct {
	Version int `json:"version" yaml:"version"`
	// Kind is the crash kind family (see kindPolicies): kinds that are the
	// same bug reported by different builds share one family.
	Kind string `json:"kind" yaml:"kind"`
	// Message is the panic or report message as a template: what varies
	// between inputs is replaced by placeholders (<N>, <HEX>, "<S>", ...).
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
	// SiteFile is the panic location's file as <crate>/<path in crate>
	// (echo/src/lib.rs), so that it does not depend on where the workspace
	// is checked out.
	SiteFile string `json:"site_file,omitempty" yaml:"site_file,omitempty"`
	// Site is the function that panicked, by its short name (no path, no
	// generic arguments, no hash or disambiguator, closures as {closure}):
	// release builds name functions by their short DWARF names, dev builds by
	// full paths, and the short name is what both agree on.
	Site string `json:"site,omitempty" yaml:"site,omitempty"`
	// Callers are up to N-1 in-app frames after the site (N = Options.Frames).
	Callers []string `json:"callers,omitempty" yaml:"callers,omitempty"`
	// Frames are the top N in-app frames, for kinds keyed that way.
	Frames []string `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Cycle is a recursion's repeating cycle, rotated to start at its
	// alphabetically first function.
	Cycle []string `json:"cycle,omitempty" yaml:"cycle,omitempty"`
	// Entry is the outermost function of the code under test, for kinds
	// whose inner frames optimized builds lose.
	Entry string `json:"entry,omitempty" yaml:"entry,omitempty"`
	// Target is the fuzz target, for traces without any in-app frame.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`

	// SiteFrom says how Site was found (not part of the key): "debug-info"
	// (the panic location mapped through the binary), "frame-at-location",
	// "frame-in-file", "first-app-frame" or "none".
	SiteFrom string `json:"site_from,omitempty" yaml:"site_from,omitempty"`
	// SiteError says why the binary could not map the panic location when
	// a resolver was given (not part of the key): the site then came from
	// the frames.
	SiteError string `json:"site_error,omitempty" yaml:"site_error,omitempty"`
}

// String is the key's readable form, and what its id hashes:
//
//	v1|rust-panic|msg=index out of bounds: the len is <N> but the index is <N>|site=chipset/src/cmos_rtc.rs:write_register
func (k Key) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d|%s", k.Version, k.Kind)
	if k.Message != "" {
		b.WriteString("|msg=")
		b.WriteString(escapeKeyPart(k.Message))
	}
	if k.Site != "" || k.SiteFile != "" {
		b.WriteString("|site=")
		if k.SiteFile != "" {
			b.WriteString(escapeKeyPart(k.SiteFile))
			b.WriteString(":")
		}
		b.WriteString(escapeKeyPart(k.Site))
	}
	writeList(&b, "callers", k.Callers)
	writeList(&b, "frames", k.Frames)
	writeList(&b, "cycle", k.Cycle)
	if k.Entry != "" {
		b.WriteString("|entry=")
		b.WriteString(escapeKeyPart(k.Entry))
	}
	if k.Target != "" {
		b.WriteString("|target=")
		b.WriteString(escapeKeyPart(k.Target))
	}
	return b.String()
}

func writeList(b *strings.Builder, name string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString("|")
	b.WriteString(name)
	b.WriteString("=")
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(escapeKeyPart(it))
	}
}

// escapeKeyPart keeps a key on one line and its separators unambiguous.
var keyEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "|", `\|`, ",", `\,`)

func escapeKeyPart(s string) string { return keyEscaper.Replace(s) }

// ID is the bucket id: "v<version>-" and the first 12 hex digits of the
// SHA-256 of String().
func (k Key) ID() BucketID {
	sum := sha256.Sum256([]byte(k.String()))
	return BucketID(fmt.Sprintf("v%d-%s", k.Version, hex.EncodeToString(sum[:6])))
}

// SiteResolver maps a source location to the function whose code is there
// in one binary, through its debug info: the innermost function, inlined or
// not, so that `take_bytes` is found even where release builds inlined it
// into its callers and the backtrace shows only `decode_message`.
type SiteResolver interface {
	// FunctionAt returns the (demangled or normalized) name of the function
	// containing loc, or "" with a nil error when the binary has no code
	// for that line.
	FunctionAt(loc symbolize.Location) (string, error)
	// FunctionInCrate is FunctionAt for a file named by its crate and its
	// path inside the crate, for logs whose directories are not the
	// binary's (printed on another machine or checkout).
	FunctionInCrate(crate, rel string, line int) (string, error)
	// CrateOf names the crate of a source file and its path inside the
	// crate, from the binary's compile units.
	CrateOf(file string) (crate, rel string, err error)
}

// Options tune the key. The zero value is the documented default.
type Options struct {
	// Frames is N, the number of frames in keys that take frames: for
	// panics the site plus N-1 callers (default 1: the site alone), for
	// other kinds the top N in-app frames (defaults in kindPolicies: 1 for
	// timeouts and slow units, 3 for sanitizer reports, SEGV, abort and
	// leaks and for a stack overflow without a cycle; OOMs key on the
	// target alone). Zero means the
	// per-kind default. More frames split a bug reached through several
	// callers, and stop release and dev keys from agreeing once inlining
	// differs.
	Frames int
	// Target is the fuzz target's name, which keys traces that have no
	// in-app frame (timeouts and OOMs without a sanitizer). Empty keys them
	// as target "?".
	Target string
	// Resolver maps the panic location to its function through the binary
	// the trace came from. Without one the site is the frame at the panic
	// location, which release builds lose when they inline the panicking
	// function (see SiteResolver).
	Resolver SiteResolver
	// Crates names the crate of a source file (the workspace's manifests
	// and --path-map rewrites). Without it the crate is the one the site
	// function's path names, else the directory before src/.
	Crates *CrateMap
	// Binary is the path of the fuzz binary the trace came from: when
	// Resolver is nil, ResolverFor(Binary) is used (its index is cached
	// per binary for the process). A binary that cannot be read leaves
	// the site to the frames, as without one.
	Binary string
}

// KeyFor computes the bucket key of a trace. A resolver error is not fatal:
// the site then comes from the frames, and SiteFrom says so.
func KeyFor(t *symbolize.Trace, opt Options) Key {
	if t == nil {
		t = &symbolize.Trace{}
	}
	pol := policyFor(t.Kind)
	k := Key{Version: KeyVersion, Kind: pol.KeyFamily()}
	switch {
	case pol.Message == crashkind.MessageFixed:
		k.Message = pol.FixedMessage
	case pol.Message == crashkind.MessageTemplate && t.Message != "":
		k.Message = MessageTemplate(t.Message)
	}
	n := opt.Frames
	if n <= 0 {
		n = pol.Frames
	}
	frames := appFrames(t.Frames)

	switch pol.Key {
	case crashkind.KeySite:
		r := opt.Resolver
		if r == nil && opt.Binary != "" {
			r, _ = ResolverFor(opt.Binary)
		}
		site := findSite(t, frames, r, opt.Crates)
		k.SiteFile, k.Site, k.SiteFrom, k.SiteError = site.file, site.function, site.from, site.err
		if n > 1 {
			k.Callers = tokens(frames[site.next:], n-1)
		}
	case crashkind.KeyEntry:
		k.Entry = entryFrame(frames)
	case crashkind.KeyTarget:
	case crashkind.KeyCycle:
		k.Cycle = findCycle(tokens(frames, -1))
		if k.Cycle == nil {
			k.Frames = tokens(frames, n)
		}
	default:
		k.Frames = tokens(frames, n)
	}
	if k.Site == "" && k.SiteFile == "" && len(k.Frames) == 0 && len(k.Cycle) == 0 && k.Entry == "" {
		k.Target = opt.Target
		if k.Target == "" {
			k.Target = "?"
		}
	}
	return k
}

// BucketOf is KeyFor(t, opt).ID().
func BucketOf(t *symbolize.Trace, opt Options) BucketID { return KeyFor(t, opt).ID() }

// MessageTemplate replaces the input-dependent parts of a message with
// placeholders by the rules in messageRules, trims each line, drops blank
// lines and caps the length.
func MessageTemplate(msg string) string {
	templates.Lock()
	t, ok := templates.m[msg]
	templates.Unlock()
	if ok {
		return t
	}
	t = messageTemplate(msg)
	templates.Lock()
	if len(templates.m) >= maxTemplates {
		templates.m = map[string]string{}
	}
	templates.m[msg] = t
	templates.Unlock()
	return t
}

// templates memoizes MessageTemplate: the crashes of one bug repeat the
// same few messages. Bounded: emptied when full.
var templates = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

const maxTemplates = 1 << 14

func messageTemplate(msg string) string {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	// One pass can expose a match for an earlier rule ('0'A'0 becomes
	// '<C>'A'<N>, where 'A' is now a quoted char): repeat to a fixed point,
	// so that a template is its own template.
	for range 4 {
		before := msg
		for i := range messageRules {
			r := &messageRules[i]
			if !r.applies(msg) {
				continue
			}
			if r.replFunc != nil {
				msg = r.re.ReplaceAllStringFunc(msg, r.replFunc)
			} else {
				msg = r.re.ReplaceAllString(msg, r.repl)
			}
		}
		if msg == before {
			break
		}
	}
	lines := strings.Split(msg, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	msg = strings.Join(out, "\n")
	if len(msg) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// FieldDiff is one key field on which two keys differ.
type FieldDiff struct {
	Field string `json:"field" yaml:"field"`
	A     string `json:"a" yaml:"a"`
	B     string `json:"b" yaml:"b"`
}

// Diff lists the key fields on which k and o differ, in key order; empty
// when they are the same key.
func (k Key) Diff(o Key) []FieldDiff {
	var out []FieldDiff
	add := func(field, a, b string) {
		if a != b {
			out = append(out, FieldDiff{Field: field, A: a, B: b})
		}
	}
	add("version", fmt.Sprint(k.Version), fmt.Sprint(o.Version))
	add("kind", k.Kind, o.Kind)
	add("message", k.Message, o.Message)
	add("site_file", k.SiteFile, o.SiteFile)
	add("site", k.Site, o.Site)
	add("callers", strings.Join(k.Callers, ", "), strings.Join(o.Callers, ", "))
	add("frames", strings.Join(k.Frames, ", "), strings.Join(o.Frames, ", "))
	add("cycle", strings.Join(k.Cycle, ", "), strings.Join(o.Cycle, ", "))
	add("entry", k.Entry, o.Entry)
	add("target", k.Target, o.Target)
	return out
}
