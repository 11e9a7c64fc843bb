package dedupe

import (
	"sort"
)

// Bucket is the crashes that share one key.
type Bucket struct {
	ID    BucketID `json:"id" yaml:"id"`
	Key   string   `json:"key" yaml:"key"`
	Count int      `json:"count" yaml:"count"`
	// Representative is the member with the richest trace (most in-app
	// frames, a site found through debug info), ties broken by name.
	Representative string   `json:"representative" yaml:"representative"`
	Members        []string `json:"members" yaml:"members"`
	// Parts is the key broken into its fields.
	Parts Key `json:"parts" yaml:"parts"`
	// Rep is the representative crash, for Cluster.
	Rep Crash `json:"-" yaml:"-"`
	// repScore is Rep's richness (see richness).
	repScore int
}

// Group puts crashes into buckets by key: largest bucket first, then by id.
// Members keep their input order.
func Group(crashes []Crash) []Bucket {
	var g Grouper
	for _, c := range crashes {
		g.Add(c)
	}
	return g.Buckets()
}

// Grouper groups crashes one at a time: it keeps each bucket's
// representative crash and its members' names, so what it holds grows
// with buckets, not with crashes (a crash's trace is dropped once it is
// not its bucket's representative).
type Grouper struct {
	byID  map[BucketID]*Bucket
	order []BucketID
}

// Add puts one crash into its bucket and returns its key (the bucket's id
// is its ID).
func (g *Grouper) Add(c Crash) Key {
	if g.byID == nil {
		g.byID = map[BucketID]*Bucket{}
	}
	k := c.Key()
	id := k.ID()
	b, ok := g.byID[id]
	score := richness(c, k)
	if !ok {
		b = &Bucket{ID: id, Key: k.String(), Parts: k, Representative: c.Name, Rep: c, repScore: score}
		g.byID[id] = b
		g.order = append(g.order, id)
	} else if score > b.repScore || score == b.repScore && c.Name < b.Representative {
		b.Representative, b.Rep, b.Parts.SiteFrom, b.repScore = c.Name, c, k.SiteFrom, score
	}
	b.Count++
	b.Members = append(b.Members, c.Name)
	return k
}

// Buckets are the buckets so far: largest first, then by id.
func (g *Grouper) Buckets() []Bucket {
	out := make([]Bucket, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, *g.byID[id])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// richness ranks a bucket's members for its representative: the most
// in-app frames, then a site found through debug info or at its location
// (ties go to the first name).
func richness(c Crash, k Key) int {
	s := 0
	for i := range c.Trace.Frames {
		if isAppFrame(&c.Trace.Frames[i]) {
			s += 2
		}
	}
	if k.SiteFrom == "debug-info" || k.SiteFrom == "frame-at-location" {
		s++
	}
	return s
}

// Suggestion proposes that two buckets are one bug. It is only a
// suggestion: buckets are never merged by this package.
type Suggestion struct {
	A           BucketID    `json:"a" yaml:"a"`
	B           BucketID    `json:"b" yaml:"b"`
	Similarity  float64     `json:"similarity" yaml:"similarity"`
	Explanation Explanation `json:"explanation" yaml:"explanation"`
}

// Cluster compares the representatives of every pair of buckets and
// suggests merging those at or above the threshold, most similar first.
func Cluster(buckets []Bucket, p SimilarityParams) []Suggestion {
	p = p.withDefaults()
	profiles := make([]*profile, len(buckets))
	for i, b := range buckets {
		if b.Rep.Trace != nil {
			pr := profileOf(b.Rep)
			profiles[i] = &pr
		}
	}
	var out []Suggestion
	for i := range buckets {
		for j := i + 1; j < len(buckets); j++ {
			a, b := profiles[i], profiles[j]
			if a == nil || b == nil || buckets[i].ID == buckets[j].ID || a.key.Kind != b.key.Kind {
				continue
			}
			e := compare(*a, *b, p)
			if e.Similarity >= p.Threshold {
				out = append(out, Suggestion{A: buckets[i].ID, B: buckets[j].ID, Similarity: e.Similarity, Explanation: e})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Similarity > out[j].Similarity })
	return out
}
