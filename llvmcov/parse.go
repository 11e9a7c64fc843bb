package llvmcov

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Export is what triage reads of `llvm-cov export -format=text`
// (llvm.coverage.json.export 2.x/3.x): per-file summaries and per-function
// entry counts and regions. Segments and expansions are skipped.
type Export struct {
	Version   string
	Files     []File
	Functions []Function
	Totals    Summary
}

// File is one source file's summary.
type File struct {
	Filename string  `json:"filename"`
	Summary  Summary `json:"summary"`
}

// Summary counts what a file (or the totals) has and covers.
type Summary struct {
	Lines     Count `json:"lines"`
	Functions Count `json:"functions"`
	Regions   Count `json:"regions"`
	Branches  Count `json:"branches"`
}

// Count is found (count) and hit (covered).
type Count struct {
	Count   int `json:"count"`
	Covered int `json:"covered"`
}

// Function is one function instantiation: its mangled name, entry count,
// files and code regions.
type Function struct {
	Name      string   `json:"name"`
	Count     int64    `json:"count"`
	Filenames []string `json:"filenames"`
	Regions   []Region `json:"-"`
}

// Region is a code region of a function: lines L1..L2 of the function's
// file FileID, executed Count times. Kind 0 is code (others: expansion,
// skipped, gap, branch).
type Region struct {
	L1, C1, L2, C2 int
	Count          int64
	FileID         int
	Kind           int
}

// maxExportItems bounds the files and functions read from one export (a
// hostile or broken stream cannot make us hold unbounded memory).
const maxExportItems = 10_000_000

// ParseExport reads an export JSON stream without holding all of it: the
// files and functions arrays are decoded one element at a time.
func ParseExport(r io.Reader) (*Export, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.UseNumber()
	e := &Export{}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	sawData := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return nil, err
		}
		switch key {
		case "version":
			if err := dec.Decode(&e.Version); err != nil {
				return nil, fmt.Errorf("version: %w", err)
			}
		case "type":
			var typ string
			if err := dec.Decode(&typ); err != nil {
				return nil, fmt.Errorf("type: %w", err)
			}
			if typ != "llvm.coverage.json.export" {
				return nil, fmt.Errorf("type %q is not llvm.coverage.json.export", typ)
			}
		case "data":
			sawData = true
			if err := parseData(dec, e); err != nil {
				return nil, err
			}
		default:
			if err := skip(dec); err != nil {
				return nil, err
			}
		}
	}
	if !sawData {
		return nil, errors.New("no data array: not an llvm-cov export")
	}
	return e, nil
}

func parseData(dec *json.Decoder, e *Export) error {
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	for dec.More() {
		if err := expectDelim(dec, '{'); err != nil {
			return fmt.Errorf("data[]: %w", err)
		}
		for dec.More() {
			key, err := objectKey(dec)
			if err != nil {
				return err
			}
			switch key {
			case "files":
				err = eachElement(dec, func() error {
					var f File
					if err := dec.Decode(&f); err != nil {
						return fmt.Errorf("files[%d]: %w", len(e.Files), err)
					}
					e.Files = append(e.Files, f)
					return nil
				})
			case "functions":
				err = eachElement(dec, func() error {
					var f struct {
						Function
						Count   json.Number     `json:"count"`
						Regions [][]json.Number `json:"regions"`
					}
					if err := dec.Decode(&f); err != nil {
						return fmt.Errorf("functions[%d]: %w", len(e.Functions), err)
					}
					fn := f.Function
					if f.Count != "" {
						c, err := parseCount(string(f.Count))
						if err != nil {
							return fmt.Errorf("functions[%d] %s: count %q", len(e.Functions), fn.Name, f.Count)
						}
						fn.Count = c
					}
					for _, rg := range f.Regions {
						region, err := parseRegion(rg)
						if err != nil {
							return fmt.Errorf("functions[%d] %s: %w", len(e.Functions), fn.Name, err)
						}
						fn.Regions = append(fn.Regions, region)
					}
					e.Functions = append(e.Functions, fn)
					return nil
				})
			case "totals":
				err = dec.Decode(&e.Totals)
			default:
				err = skip(dec)
			}
			if err != nil {
				return err
			}
			if len(e.Files)+len(e.Functions) > maxExportItems {
				return fmt.Errorf("more than %d files and functions", maxExportItems)
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

// parseRegion reads [l1,c1,l2,c2,count,fileID,expandedFileID,kind].
func parseRegion(v []json.Number) (Region, error) {
	if len(v) < 8 {
		return Region{}, fmt.Errorf("region has %d fields, want 8", len(v))
	}
	n := make([]int64, 8)
	for i := range 8 {
		x, err := parseCount(string(v[i]))
		if err != nil {
			return Region{}, fmt.Errorf("region field %d is %q", i, v[i])
		}
		n[i] = x
	}
	if n[0] > 1<<31 || n[2] > 1<<31 || n[5] > 1<<20 {
		return Region{}, errors.New("region line or file out of range")
	}
	return Region{L1: int(n[0]), C1: int(n[1]), L2: int(n[2]), C2: int(n[3]), Count: n[4], FileID: int(n[5]), Kind: int(n[7])}, nil
}

func eachElement(dec *json.Decoder, fn func() error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for dec.More() {
		if err := fn(); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q, found %v", d, tok)
	}
	return nil
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, found %v", tok)
	}
	return k, nil
}

// skip reads one value whatever it is.
func skip(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}

// LCOVFile is one SF record of an lcov export: executable lines and their
// counts, and the functions' first lines.
type LCOVFile struct {
	Lines map[int]int64
	// Functions maps a function's (mangled) name to its first line.
	Functions map[string]int
}

// ParseLCOV reads an lcov tracefile: SF, DA, FN and end_of_record lines
// (others are skipped).
func ParseLCOV(r io.Reader) (map[string]*LCOVFile, error) {
	out := map[string]*LCOVFile{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var cur *LCOVFile
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		tag, rest, _ := strings.Cut(line, ":")
		switch tag {
		case "SF":
			cur = out[rest]
			if cur == nil {
				cur = &LCOVFile{Lines: map[int]int64{}, Functions: map[string]int{}}
				out[rest] = cur
			}
		case "DA":
			if cur == nil {
				return nil, fmt.Errorf("line %d: DA outside a file record", n)
			}
			ln, cnt, ok := strings.Cut(rest, ",")
			l, err1 := strconv.Atoi(ln)
			c, err2 := parseCount(strings.Split(cnt, ",")[0])
			if !ok || err1 != nil || err2 != nil || l <= 0 || c < 0 {
				return nil, fmt.Errorf("line %d: bad DA %q", n, rest)
			}
			cur.Lines[l] += c
		case "FN":
			if cur == nil {
				return nil, fmt.Errorf("line %d: FN outside a file record", n)
			}
			ln, name, ok := strings.Cut(rest, ",")
			l, err := strconv.Atoi(ln)
			if !ok || err != nil || l <= 0 {
				return nil, fmt.Errorf("line %d: bad FN %q", n, rest)
			}
			cur.Functions[name] = l
		case "end_of_record":
			cur = nil
		}
	}
	return out, sc.Err()
}

// parseCount reads an execution count: an unsigned 64-bit number. A count
// above the int64 range is kept as the largest int64: LLVM prints counters
// that an interrupted process left inconsistent (a region's expression
// counter below zero, seen as 2^64-33 after a crash in continuous mode)
// as such numbers, and llvm-cov itself takes them as executed.
func parseCount(s string) (int64, error) {
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if u > math.MaxInt64 {
		return math.MaxInt64, nil
	}
	return int64(u), nil
}
