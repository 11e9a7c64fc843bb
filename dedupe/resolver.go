package dedupe

import (
	"sync"

	"github.com/fuzztriage/triage/dwarfsym"
	"github.com/fuzztriage/triage/symbolize"
)

// symbolizer caches every binary's index for the whole process: keys of
// thousands of crashes of one target read its DWARF once.
var symbolizer = sync.OnceValue(dwarfsym.NewSymbolizer)

// binaryResolver is a SiteResolver over one binary's debug info, through
// symbolize's FunctionAt.
type binaryResolver struct{ path string }

func (r binaryResolver) FunctionAt(loc symbolize.Location) (string, error) {
	sf, err := symbolizer().FunctionAt(r.path, loc.File, loc.Line)
	if err != nil {
		return "", err
	}
	if sf.Normalized != "" {
		return sf.Normalized, nil
	}
	return sf.Function, nil
}

func (r binaryResolver) FunctionInCrate(crate, rel string, line int) (string, error) {
	sf, err := symbolizer().FunctionInCrate(r.path, crate, rel, line)
	if err != nil {
		return "", err
	}
	if sf.Normalized != "" {
		return sf.Normalized, nil
	}
	return sf.Function, nil
}

func (r binaryResolver) CrateOf(file string) (crate, rel string, err error) {
	return symbolizer().CrateOf(r.path, file)
}

// ResolverFor returns the SiteResolver of the binary at path (the fuzz
// binary a crash log came from). It fails when the file is not an ELF
// binary; a binary without debug info gives a resolver whose lookups fail,
// and keys then fall back to the frames.
func ResolverFor(path string) (SiteResolver, error) {
	if _, err := symbolizer().Open(path); err != nil {
		return nil, err
	}
	return binaryResolver{path: path}, nil
}
