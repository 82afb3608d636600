/* gen_cards.c — deterministic generator of realistic seed-format cards for tests and benchmarks.
 *
 *   gen_cards N DIR [SEED]
 *
 * Writes DIR/000/Q000001.md … (1000 cards per subdirectory), each about 2 KB:
 * the YAML header of the original card (packs, clause ids, capability tags,
 * sources with locators, ui actions) and its eight bold-led body sections,
 * with links "(See Q…)" to other generated cards. Text is drawn from a
 * Zipf-distributed vocabulary of a few thousand words (English function
 * words, compliance terms and synthetic words), so that FTS5 sees a
 * realistic mix of very common and rare terms. The same N and SEED always
 * give the same bytes. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng_state;

static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n) { return (unsigned)(rnd() % n); }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static const char *const function_words[] = {
  "the", "of", "and", "to", "a", "in", "is", "for", "that", "with", "on", "as", "be", "by",
  "are", "this", "it", "or", "from", "an", "at", "which", "all", "must", "should", "can",
  "we", "our", "your", "each", "any", "how", "what", "when", "who", "where", "not", "its"};

static const char *const compliance_words[] = {
  "security", "information", "risk", "control", "controls", "policy", "policies", "audit",
  "auditor", "evidence", "compliance", "management", "system", "isms", "scope", "asset",
  "assets", "access", "incident", "response", "supplier", "vendor", "privacy", "data",
  "personal", "processing", "controller", "processor", "consent", "breach", "notification",
  "encryption", "key", "backup", "continuity", "resilience", "availability", "integrity",
  "confidentiality", "governance", "board", "leadership", "objectives", "measurement",
  "monitoring", "logging", "vulnerability", "patch", "change", "configuration", "baseline",
  "identity", "authentication", "authorization", "privileged", "segregation", "duties",
  "training", "awareness", "competence", "documented", "procedure", "record", "retention",
  "classification", "labelling", "transfer", "cloud", "network", "endpoint", "malware",
  "threat", "intelligence", "assessment", "treatment", "acceptance", "owner", "register",
  "statement", "applicability", "nonconformity", "corrective", "action", "improvement",
  "internal", "external", "certification", "surveillance", "attestation", "report", "type",
  "criteria", "trust", "services", "framework", "profile", "tier", "function", "category",
  "subcategory", "safeguard", "administrative", "physical", "technical", "covered", "entity",
  "business", "associate", "cardholder", "payment", "segmentation", "penetration", "testing",
  "secure", "development", "coding", "lifecycle", "impact", "dpia", "lawful", "basis",
  "subject", "rights", "erasure", "portability", "officer", "dpo", "sub-processor",
  "contract", "clause", "annex", "requirement", "requirements", "organisation", "context",
  "interested", "parties", "stakeholders", "workflow", "template", "dashboard"};

static const char *const syllables[] = {
  "ba", "ko", "ri", "ten", "mo", "sa", "lu", "vor", "din", "ex", "pa", "tri", "gen", "ul",
  "na", "qui", "res", "ta", "lo", "mi", "ser", "fa", "ron", "dec", "ve", "al", "pro", "ti",
  "cor", "ne", "ma", "sto", "le", "ran", "cu", "bi"};

#define NSYNTH 3000
static char *vocab[NSYNTH + 256];
static size_t nvocab;
static double *zipf_cdf;

static void build_vocab(void) {
  /* Function words take the top ranks (as in any English corpus); compliance
   * terms and synthetic words are shuffled together below them. */
  size_t nf = sizeof function_words / sizeof *function_words;
  size_t nc = sizeof compliance_words / sizeof *compliance_words;
  for (size_t i = 0; i < nf; i++) vocab[nvocab++] = strdup(function_words[i]);
  size_t first = nvocab;
  for (size_t i = 0; i < nc; i++) vocab[nvocab++] = strdup(compliance_words[i]);
  size_t ns = sizeof syllables / sizeof *syllables;
  for (size_t i = 0; i < NSYNTH; i++) {
    char w[32] = "";
    unsigned k = 2 + rnd_below(3);
    for (unsigned j = 0; j < k; j++) strcat(w, syllables[rnd_below((unsigned)ns)]);
    vocab[nvocab++] = strdup(w);
  }
  for (size_t i = nvocab - 1; i > first; i--) {
    size_t j = first + rnd_below((unsigned)(i - first + 1));
    char *t = vocab[i];
    vocab[i] = vocab[j];
    vocab[j] = t;
  }
  zipf_cdf = malloc(nvocab * sizeof *zipf_cdf);
  double sum = 0;
  for (size_t r = 0; r < nvocab; r++) sum += 1.0 / pow((double)r + 1, 1.05);
  double acc = 0;
  for (size_t r = 0; r < nvocab; r++) {
    acc += 1.0 / pow((double)r + 1, 1.05) / sum;
    zipf_cdf[r] = acc;
  }
}

static const char *word(void) {
  double u = rnd_unit();
  size_t lo = 0, hi = nvocab - 1;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (zipf_cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return vocab[lo];
}

/* A compliance-leaning word: the subjects of titles and questions. */
static const char *topic_word(void) {
  if (rnd_below(3) == 0) return word();
  return compliance_words[rnd_below(sizeof compliance_words / sizeof *compliance_words)];
}

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL) abort();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void printf_(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void printf_(buf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(b, tmp, (size_t)(n < (int)sizeof tmp ? n : (int)sizeof tmp - 1));
}

static void capitalized(buf *b, const char *w) {
  char c = w[0];
  if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
  put(b, &c, 1);
  puts_(b, w + 1);
}

static void words(buf *b, unsigned n, int capital_first) {
  for (unsigned i = 0; i < n; i++) {
    if (i) puts_(b, " ");
    if (i == 0 && capital_first) capitalized(b, word());
    else puts_(b, i % 4 == 2 ? topic_word() : word());
  }
}

static void sentence(buf *b) {
  words(b, 8 + rnd_below(12), 1);
  puts_(b, ".");
}

static void title_words(buf *b, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    if (i) puts_(b, " ");
    capitalized(b, topic_word());
  }
}

typedef struct pack {
  const char *name, *title;
  int kind;
} pack;

static const pack packs[] = {
  {"ISO27001:2022", "ISO/IEC 27001:2022", 0}, {"ISO27002:2022", "ISO/IEC 27002:2022", 1},
  {"SOC2:2017", "SOC 2 Trust Services Criteria", 2}, {"GDPR:2016", "GDPR", 3},
  {"NIST-CSF:2.0", "NIST CSF 2.0", 4}, {"HIPAA:2013", "HIPAA Security Rule", 5},
  {"PCI-DSS:4.0", "PCI DSS v4.0", 6}};
#define NPACKS (sizeof packs / sizeof *packs)

static const char *const csf_functions[] = {"GV.OC", "GV.RM", "ID.AM", "ID.RA", "PR.AA",
                                            "PR.DS", "DE.CM", "RS.MA", "RC.RP"};

/* A clause of a pack: its id part and a locator people write. */
static void clause(const pack *p, char *id, size_t idn, char *loc, size_t locn) {
  unsigned a = 1 + rnd_below(9), c = 1 + rnd_below(9);
  switch (p->kind) {
  case 0:
    if (rnd_below(2)) {
      unsigned t = 5 + rnd_below(4), n = 1 + rnd_below(t == 5 ? 37 : t == 8 ? 34 : 14);
      snprintf(id, idn, "A.%u.%u", t, n);
      snprintf(loc, locn, "Annex A %u.%u", t, n);
    } else {
      unsigned cl = 4 + rnd_below(7);
      snprintf(id, idn, "%u.%u", cl, 1 + rnd_below(3));
      snprintf(loc, locn, "Clause %s", id);
    }
    break;
  case 1:
    snprintf(id, idn, "%u.%u", 5 + rnd_below(4), 1 + rnd_below(30));
    snprintf(loc, locn, "Control %s", id);
    break;
  case 2:
    snprintf(id, idn, "CC%u.%u", a, c);
    snprintf(loc, locn, "%s", id);
    break;
  case 3:
    snprintf(id, idn, "Art.%u", 5 + rnd_below(90));
    snprintf(loc, locn, "Article %s", id + 4);
    break;
  case 4:
    snprintf(id, idn, "%s-%02u", csf_functions[rnd_below(9)], 1 + rnd_below(12));
    snprintf(loc, locn, "%s", id);
    break;
  case 5:
    snprintf(id, idn, "164.%u(a)(%u)", 308 + rnd_below(9), a);
    snprintf(loc, locn, "\xc2\xa7%s", id);
    break;
  default:
    snprintf(id, idn, "Req.%u.%u.%u", a, c, 1 + rnd_below(5));
    snprintf(loc, locn, "Requirement %s", id + 4);
    break;
  }
}

static const char *const capabilities[] = {"Workflow", "Draft Doc", "Register", "Dashboard",
                                           "Evidence", "Training", "Assessment", "Report"};
static const char *const action_types[] = {"start_workflow", "open_template", "open_register",
                                           "open_dashboard"};

static void card(buf *b, unsigned long id, unsigned long n) {
  char qbuf[512];
  buf q = {0};
  capitalized(&q, rnd_below(2) ? "what" : "how");
  puts_(&q, rnd_below(2) ? " is " : " do we ");
  words(&q, 5 + rnd_below(7), 0);
  puts_(&q, "?");
  snprintf(qbuf, sizeof qbuf, "%s", q.p);
  free(q.p);

  const pack *p1 = &packs[rnd_below(NPACKS)];
  const pack *p2 = &packs[rnd_below(NPACKS)];
  char c1[64], l1[64], c2[64], l2[64];
  clause(p1, c1, sizeof c1, l1, sizeof l1);
  clause(p2, c2, sizeof c2, l2, sizeof l2);

  printf_(b, "id: Q%06lu\nquery: >-\n  %s\n", id, qbuf);
  printf_(b, "packs:\n  - \"%s\"\n", p1->name);
  if (p2 != p1) printf_(b, "  - \"%s\"\n", p2->name);
  printf_(b, "primary_ids:\n  - \"%s/%s\"\n", p1->name, c1);
  printf_(b, "overlap_ids:\n  - \"%s/%s\"\n", p2->name, c2);
  puts_(b, "capability_tags:\n");
  unsigned ntags = 1 + rnd_below(3), t0 = rnd_below(8);
  for (unsigned i = 0; i < ntags; i++) printf_(b, "  - \"%s\"\n", capabilities[(t0 + i) % 8]);
  puts_(b, "flags: []\nsources:\n");
  const pack *ps[2] = {p1, p2};
  const char *cs[2] = {c1, c2}, *ls[2] = {l1, l2};
  for (int i = 0; i < 2; i++) {
    printf_(b, "  - title: \"%s \xe2\x80\x94 ", ps[i]->title);
    title_words(b, 2 + rnd_below(3));
    printf_(b, "\"\n    id: \"%s/%s\"\n    locator: \"%s\"\n", ps[i]->name, cs[i], ls[i]);
  }
  puts_(b, "ui:\n  cards_hint:\n    - \"");
  title_words(b, 2);
  puts_(b, " wizard\"\n  actions:\n");
  printf_(b, "    - type: \"%s\"\n      target: \"%s_%s\"\n      label: \"Open ",
          action_types[rnd_below(4)], topic_word(), topic_word());
  title_words(b, 2);
  puts_(b, "\"\n");
  printf_(b, "output_mode: \"%s\"\ngraph_required: %s\nnotes: \"", rnd_below(2) ? "both" : "text",
          rnd_below(4) ? "false" : "true");
  sentence(b);
  puts_(b, "\"\n\n---\n");

  printf_(b, "### %lu) %s\n\n", id, qbuf);
  puts_(b, "**Standard terms**  \n");
  for (int i = 0; i < 2; i++) {
    puts_(b, "- **");
    title_words(b, 2);
    printf_(b, " (%s %s):** ", ps[i]->title, ls[i]);
    words(b, 6 + rnd_below(6), 0);
    puts_(b, ".  \n");
  }
  puts_(b, "\n**Plain-English answer**  \n");
  unsigned ns = 3 + rnd_below(3);
  for (unsigned i = 0; i < ns; i++) {
    if (i) puts_(b, " ");
    sentence(b);
  }
  printf_(b, "\n\n**Applies to**  \n- **Primary:** %s %s  \n- **Also relevant/Overlaps:** %s %s\n",
          p1->title, l1, p2->title, l2);
  puts_(b, "\n**Why it matters**  \n");
  sentence(b);
  puts_(b, " ");
  sentence(b);
  puts_(b, "\n\n**Do next in our platform**  \n");
  for (int i = 0; i < 2; i++) {
    puts_(b, "- ");
    words(b, 5 + rnd_below(5), 1);
    puts_(b, ".  \n");
  }
  puts_(b, "\n**How our platform will help**  \n");
  for (unsigned i = 0; i < ntags; i++) {
    printf_(b, "- **[%s]** ", capabilities[(t0 + i) % 8]);
    words(b, 4 + rnd_below(5), 1);
    puts_(b, ".  \n");
  }
  puts_(b, "\n**Likely follow-ups**  \n");
  unsigned nl = n > 1 ? 1 + rnd_below(3) : 0;
  for (unsigned i = 0; i < nl; i++) {
    unsigned long to = 1 + rnd() % n;
    if (to == id) to = to % n + 1;
    puts_(b, "- \xe2\x80\x9c");
    capitalized(b, "what");
    puts_(b, " ");
    words(b, 4 + rnd_below(5), 0);
    printf_(b, "?\xe2\x80\x9d (See Q%06lu)\n", to);
  }
  printf_(b, "\n**Sources**  \n- %s %s  \n- %s %s\n", p1->title, l1, p2->title, l2);
}

static int mkdir_p(const char *dir) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *s = tmp + 1; *s; s++)
    if (*s == '/') {
      *s = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
      *s = '/';
    }
  return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: gen_cards N DIR [SEED]\n"
                    "writes N cards DIR/000/Q000001.md ... (deterministic for a given SEED)\n");
    return 2;
  }
  char *end;
  unsigned long n = strtoul(argv[1], &end, 10);
  if (*end || n == 0 || n > 999999) {
    fprintf(stderr, "gen_cards: N must be from 1 to 999999, not '%s'\n", argv[1]);
    return 2;
  }
  const char *dir = argv[2];
  rng_state = argc == 4 ? strtoull(argv[3], NULL, 10) : 42;
  build_vocab();
  buf b = {0};
  char path[4096];
  for (unsigned long i = 1; i <= n; i++) {
    if ((i - 1) % 1000 == 0) {
      snprintf(path, sizeof path, "%s/%03lu", dir, (i - 1) / 1000);
      if (mkdir_p(path) != 0) {
        fprintf(stderr, "gen_cards: cannot create %s: %s\n", path, strerror(errno));
        return 1;
      }
    }
    b.n = 0;
    card(&b, i, n);
    snprintf(path, sizeof path, "%s/%03lu/Q%06lu.md", dir, (i - 1) / 1000, i);
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0) {
      fprintf(stderr, "gen_cards: cannot write %s: %s\n", path, strerror(errno));
      return 1;
    }
  }
  free(b.p);
  for (size_t i = 0; i < nvocab; i++) free(vocab[i]);
  free(zipf_cdf);
  return 0;
}
