package node

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Help texts, verbatim from upstream (typos included):
// components/encryption/src/metrics.rs and components/raftstore/src/coprocessor/metrics.rs.
const (
	helpDataKeys    = "Total number of ecryption data keys in use"
	helpFileNum     = "Number of files being encrypted"
	helpInitialized = "Flag to indicate if KeyDictionary encryption is initialized"
	helpFileDur     = "Histogram of writing or reading file duration"
	helpMetaSize    = "Total size of ecryption meta files"
	helpRegionCount = "Number of regions collected in region_collector"
)

// metrics holds the tikv_encryption_* values of one process lifetime.
type metrics struct {
	mu          sync.Mutex
	keys, files int
	initialized bool
	metaSize    map[string]int       // label name: key_dictionary | file_dictionary
	hist        map[[2]string]*histo // (type, operation)
}

// histo is a Prometheus histogram with exponential_buckets(0.001, 2.0, 16) (tikv-encryption.md §4.1).
type histo struct {
	counts []uint64
	sum    float64
	count  uint64
}

func buckets() []float64 {
	b := make([]float64, 16)
	for i := range b {
		b[i] = 0.001 * math.Pow(2, float64(i))
	}
	return b
}

func newMetrics() *metrics {
	return &metrics{metaSize: map[string]int{}, hist: map[[2]string]*histo{}}
}

func (m *metrics) setKeys(n int)  { m.mu.Lock(); m.keys = n; m.mu.Unlock() }
func (m *metrics) setFiles(n int) { m.mu.Lock(); m.files = n; m.mu.Unlock() }
func (m *metrics) setInitialized() {
	m.mu.Lock()
	m.initialized = true
	m.mu.Unlock()
}
func (m *metrics) setMetaSize(name string, n int) { m.mu.Lock(); m.metaSize[name] = n; m.mu.Unlock() }

func (m *metrics) observe(typ, op string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hist[[2]string{typ, op}]
	if h == nil {
		h = &histo{counts: make([]uint64, 16)}
		m.hist[[2]string{typ, op}] = h
	}
	s := d.Seconds()
	for i, b := range buckets() {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.count++
}

// render writes the Prometheus text exposition format.
func (m *metrics) render(leaders, regions int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	gauge(tikv.MetricRegionCount, helpRegionCount)
	fmt.Fprintf(&b, "%s{%s=\"leader\"} %d\n", tikv.MetricRegionCount, tikv.LabelType, leaders)
	fmt.Fprintf(&b, "%s{%s=\"region\"} %d\n", tikv.MetricRegionCount, tikv.LabelType, regions)
	gauge(tikv.MetricDataKeyStorageTotal, helpDataKeys)
	fmt.Fprintf(&b, "%s %d\n", tikv.MetricDataKeyStorageTotal, m.keys)
	gauge(tikv.MetricFileNum, helpFileNum)
	fmt.Fprintf(&b, "%s %d\n", tikv.MetricFileNum, m.files)
	gauge(tikv.MetricIsInitialized, helpInitialized)
	init := 0
	if m.initialized {
		init = 1
	}
	fmt.Fprintf(&b, "%s %d\n", tikv.MetricIsInitialized, init)
	gauge(tikv.MetricMetaFileSizeBytes, helpMetaSize)
	names := make([]string, 0, len(m.metaSize))
	for k := range m.metaSize {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s{name=%q} %d\n", tikv.MetricMetaFileSizeBytes, k, m.metaSize[k])
	}
	fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", tikv.MetricWriteReadFileDur, helpFileDur, tikv.MetricWriteReadFileDur)
	keys := make([][2]string, 0, len(m.hist))
	for k := range m.hist {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		h := m.hist[k]
		lbl := fmt.Sprintf("operation=%q,type=%q", k[1], k[0])
		for i, ub := range buckets() {
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"%g\"} %d\n", tikv.MetricWriteReadFileDur, lbl, ub, h.counts[i])
		}
		fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n", tikv.MetricWriteReadFileDur, lbl, h.count)
		fmt.Fprintf(&b, "%s_sum{%s} %g\n", tikv.MetricWriteReadFileDur, lbl, h.sum)
		fmt.Fprintf(&b, "%s_count{%s} %d\n", tikv.MetricWriteReadFileDur, lbl, h.count)
	}
	return b.String()
}
