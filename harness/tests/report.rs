//! The markdown reports: layout (snapshots with the numbers masked), charts
//! (every linked SVG exists and is well-formed), and a narrative that follows
//! the numbers.
//!
//! Snapshots live in `tests/snapshots/`. After an intended layout change,
//! regenerate them with `UPDATE_SNAPSHOTS=1 cargo test -p commlab --test report`
//! and review the diff.

#[path = "support/report_fixture.rs"]
mod fixture;
#[path = "support/svg_check.rs"]
mod svg_check;

use std::fs;
use std::path::{Path, PathBuf};

use commlab::report::{write_index, write_scenario_report};
use commlab::results::{InternalErrors, NotApplicable, Operations, ScenarioResults, TimelineEntry};

/// A fresh directory per test under Cargo's scratch space for integration tests.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{test}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Writes the scenario's report and returns its markdown.
fn report(test: &str, results: &ScenarioResults) -> (PathBuf, String) {
    let dir = scratch(test);
    write_scenario_report(&dir, results).expect("write the report");
    let text = fs::read_to_string(dir.join(format!("{}.md", results.scenario)))
        .expect("read the report back");
    (dir, text)
}

/// Every digit run becomes `#`, so a snapshot guards layout, not figures; runs
/// of spaces and of table dashes shrink to one, so a figure one digit wider
/// (which re-pads its column) does not count as a layout change.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last: Option<char> = None;
    for c in text.chars() {
        // Digits become one `#` per run; a heading's own `#`s stay as they are.
        let class = if c.is_ascii_digit() { '0' } else { c };
        if matches!(class, '0' | ' ' | '-') && last == Some(class) {
            continue;
        }
        out.push(if class == '0' { '#' } else { c });
        last = Some(class);
    }
    out
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    let actual = mask(actual);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::create_dir_all(path.parent().expect("snapshot dir")).expect("create snapshots/");
        fs::write(&path, &actual).expect("write the snapshot");
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}: run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             (UPDATE_SNAPSHOTS=1 regenerates it after an intended change)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// The links of `![alt](target)` images in a markdown text.
fn image_links(markdown: &str) -> Vec<String> {
    markdown
        .split("![")
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find("](")? + 2;
            let end = rest[start..].find(')')? + start;
            Some(rest[start..end].to_string())
        })
        .collect()
}

/// The scenario report's layout is unchanged (numbers masked).
#[test]
fn scenario_report_matches_its_snapshot() {
    let (_, text) = report("snapshot", &fixture::payments_outage());
    assert_snapshot("payments-outage.md", &text);
}

/// The index's layout is unchanged (numbers masked).
#[test]
fn index_matches_its_snapshot() {
    let dir = scratch("index-snapshot");
    write_index(&dir, &[fixture::payments_outage()]).expect("write the index");
    let text = fs::read_to_string(dir.join("README.md")).expect("read the index");
    assert_snapshot("README.md", &text);
}

/// Every chart the report links exists beside it and is well-formed SVG with text.
#[test]
fn every_linked_chart_exists_and_is_well_formed_svg() {
    let (dir, text) = report("charts", &fixture::payments_outage());
    let links = image_links(&text);
    assert_eq!(
        links,
        [
            "payments-outage/availability.svg",
            "payments-outage/availability.svg",
            "payments-outage/backlog.svg",
            "payments-outage/money-over-time.svg",
            "payments-outage/money.svg",
            "payments-outage/latency.svg"
        ]
    );
    for link in links {
        let svg = fs::read_to_string(dir.join(&link)).unwrap_or_else(|e| panic!("{link}: {e}"));
        let elements = svg_check::check(&svg).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert!(elements > 50, "{link} has only {elements} elements");
        assert!(svg.contains("<text"), "{link} has no text");
        assert!(
            svg.contains("time since the run started (s)")
                || link.ends_with("latency.svg")
                || link.ends_with("money.svg")
        );
    }
}

/// The trimmed contents of every `<text>` element of an SVG.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find('>')? + 1;
            let end = rest.find("</text>")?;
            Some(rest[start..end].trim().to_string())
        })
        .collect()
}

/// A variant is drawn in the same colour in every chart, and the fault window is shaded.
#[test]
fn variants_keep_their_colour_in_every_chart() {
    let (dir, text) = report("colours", &fixture::payments_outage());
    // The Okabe–Ito colours the report promises for each variant.
    let colours = [
        ("sync", "#D55E00"),
        ("sync-buffered", "#CC79A7"),
        ("async", "#0072B2"),
    ];
    for link in image_links(&text) {
        let svg = fs::read_to_string(dir.join(&link)).expect("chart");
        for (variant, colour) in colours {
            assert!(
                svg.contains(colour),
                "{link} lacks {variant}'s colour {colour}"
            );
            assert!(
                texts(&svg).iter().any(|t| t == variant),
                "{link} lacks {variant}'s legend"
            );
        }
    }
    let availability = fs::read_to_string(dir.join("payments-outage/availability.svg")).unwrap();
    assert!(
        availability.contains("payments crash"),
        "the fault window is labelled"
    );
    assert!(
        availability.contains("fault window"),
        "the legend names the shading"
    );
}

/// An attribute's number in a tag: `x="118"` → 118.
fn attribute(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!(" {name}=\"")).expect("the attribute") + name.len() + 3;
    let end = start + tag[start..].find('"').expect("its end");
    tag[start..end].parse().expect("a number")
}

/// An ablation's ten variants: the legend wraps into rows within the figure's
/// width (each name's right edge estimated at 0.6 em a character, generous for
/// a sans-serif font) instead of running off its right edge.
#[test]
fn an_ablations_legend_stays_inside_the_chart() {
    let mut results = fixture::payments_outage();
    let model = results.variants[0].clone();
    for m in [
        "deadline", "retry", "breaker", "bulkhead", "cache", "shedding",
    ] {
        let mut v = model.clone();
        v.variant = format!("sync-resilient-without-{m}");
        results.variants.push(v);
    }
    let (dir, text) = report("ablation-legend", &results);
    for link in image_links(&text) {
        let svg = fs::read_to_string(dir.join(&link)).expect("chart");
        let width = attribute(svg.split('>').next().unwrap(), "width");
        let mut legend = 0;
        for piece in svg.split("<text").skip(1) {
            let (tag, rest) = piece.split_once('>').unwrap();
            let content = rest.split("</text>").next().unwrap().trim();
            if !results.variants.iter().any(|v| v.variant == content) {
                continue;
            }
            legend += 1;
            let right =
                attribute(tag, "x") + 0.6 * attribute(tag, "font-size") * content.len() as f64;
            assert!(
                right <= width,
                "{link}: {content} ends at {right} of {width}"
            );
        }
        assert!(
            legend >= results.variants.len(),
            "{link}: {legend} legend entries"
        );
    }
    // Each of the six ablations has a colour of its own.
    let mut colours: Vec<_> = results
        .variants
        .iter()
        .filter(|v| v.variant.contains("-without-"))
        .map(|v| commlab::report::look(&v.variant).colour_name)
        .collect();
    colours.sort();
    colours.dedup();
    assert_eq!(colours.len(), 6, "{colours:?}");
}

/// The narrative says a variant lost bonuses exactly when its numbers say so.
#[test]
fn narrative_says_lost_only_when_something_was_lost() {
    let clean = fixture::payments_outage();
    let (_, text) = report("narrative-clean", &clean);
    assert!(
        text.contains("No variant lost an accepted request"),
        "{text}"
    );
    assert!(!text.contains("** lost "));

    let mut lossy = fixture::payments_outage();
    lossy.variants[1].bonuses.lost = 12;
    let (_, text) = report("narrative-lossy", &lossy);
    assert!(text.contains("**sync-buffered** lost 12 bonuses"), "{text}");
    assert!(!text.contains("**async** lost"));
    assert!(!text.contains("No variant lost an accepted request"));

    let mut stale = fixture::payments_outage();
    stale.variants[2].bonuses.stale = 4;
    stale.variants[0].deliveries.under_paid = 1;
    let (_, text) = report("narrative-stale", &stale);
    assert!(
        text.contains("**async** paid 4 bonuses from a stale performance"),
        "{text}"
    );
    assert!(text.contains("**sync** under-paid 1 delivery"), "{text}");
    assert!(!text.contains("paid one from a stale performance"));
}

/// The host's steal is shown in each variant's row, and the reading beside
/// it depends on it: a warning when any variant's load ran under 1 % or
/// more, a plain "the machine's own" when none did, neither when none
/// recorded it. A latency comparison between variants under steal says so.
#[test]
fn host_steal_is_shown_and_read_by_its_figure() {
    // The last cell of the variant's row in the measuring table.
    let row = |text: &str, variant: &str| -> String {
        let tag = format!("| `{variant}`");
        let measuring = text.split("How the load was measured").nth(1).unwrap_or("");
        let line = measuring
            .lines()
            .find(|l| l.starts_with(&tag))
            .unwrap_or_else(|| panic!("no measuring row for {variant}:\n{text}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        format!("| {} |", cells[cells.len() - 2])
    };
    let noisy = fixture::payments_outage();
    let (_, text) = report("steal-noisy", &noisy);
    assert!(row(&text, "sync").ends_with("| 0.00 % |"), "{text}");
    assert!(row(&text, "async").ends_with("| 3.10 % |"), "{text}");
    assert!(text.contains("At 1 % or more, the host stopped"), "{text}");
    assert!(
        text.contains("But the host stole CPU time during that load (**sync-buffered** 3.10 %)"),
        "{text}"
    );

    // A tail longer than all the time the host stole (steal × run × cores)
    // is the design's: no caveat, though the steal is shown.
    let mut long_tail = fixture::payments_outage();
    long_tail.variants[0].host_steal = Some(0.05);
    long_tail.variants[1].host_steal = Some(0.0);
    let stolen_ms = 0.05 * long_tail.duration_s * long_tail.environment.cpus as f64 * 1000.0;
    long_tail.variants[0].operations.bonus.latency_ms.p99 = Some(stolen_ms * 2.0);
    let (_, text) = report("steal-long-tail", &long_tail);
    assert!(text.contains("99th-percentile bonus answer took"), "{text}");
    assert!(!text.contains("the host stole"), "{text}");
    assert!(text.contains("At 1 % or more, the host stopped"), "{text}");

    let mut quiet = fixture::payments_outage();
    for variant in &mut quiet.variants {
        variant.host_steal = Some(0.004);
    }
    let (_, text) = report("steal-quiet", &quiet);
    assert!(row(&text, "async").ends_with("| 0.40 % |"), "{text}");
    assert!(text.contains("All below 1 %"), "{text}");
    assert!(!text.contains("the host stopped"), "{text}");
    assert!(!text.contains("the host stole"), "{text}");

    let mut unknown = fixture::payments_outage();
    for variant in &mut unknown.variants {
        variant.host_steal = None;
    }
    let (_, text) = report("steal-unknown", &unknown);
    assert!(row(&text, "async").ends_with("| – |"), "{text}");
    assert!(
        !text.contains("All below") && !text.contains("the host stopped"),
        "{text}"
    );
}

/// Repriced payouts are named — variant, count, and the money they account
/// for when they are that variant's only defect — exactly when a variant has
/// some; with none, the "No variant …" sentence says so, and only then.
#[test]
fn narrative_mentions_repriced_only_when_a_variant_repriced() {
    // The fixture's sync-buffered reprices a few resent bonuses, nothing else.
    let repriced = fixture::payments_outage();
    let buffered = &repriced.variants[1];
    assert_eq!(buffered.bonuses.repriced, fixture::REPRICED);
    let (_, text) = report("narrative-repriced", &repriced);
    assert!(
        text.contains(&format!(
            "**sync-buffered** repriced {} bonuses — paid late, at a performance the courier \
             only got after the request was answered",
            fixture::REPRICED
        )),
        "{text}"
    );
    let difference = format!("−{}.00", fixture::REPRICED_CENTS_OFF / 100);
    assert!(
        text.contains(&format!(
            "({difference}, all of it from its repriced payouts)"
        )),
        "{text}"
    );
    assert!(!text.contains("repriced one"), "{text}");
    // The money table has the column, between stale and paid though rejected.
    assert!(
        text.contains("| stale | repriced | paid though rejected |"),
        "{text}"
    );

    // With another defect beside it, the difference is not attributed.
    let mut mixed = fixture::payments_outage();
    mixed.variants[1].deliveries.stale = 2;
    let (_, text) = report("narrative-repriced-mixed", &mixed);
    assert!(text.contains("**sync-buffered** repriced"), "{text}");
    assert!(
        !text.contains("all of it from its repriced payouts"),
        "{text}"
    );

    // Nobody repriced: no sentence, and the clean list includes it.
    let mut none = fixture::payments_outage();
    for v in &mut none.variants {
        v.bonuses.repriced = 0;
        v.deliveries.repriced = 0;
    }
    none.variants[1].money.paid = none.variants[1].money.owed;
    let (_, text) = report("narrative-not-repriced", &none);
    assert!(!text.contains("** repriced "), "{text}");
    assert!(!text.contains("repriced payouts"), "{text}");
    assert!(text.contains("repriced one"), "{text}");
}

/// A run with no faults and no samples still gets an honest report, without charts.
#[test]
fn an_empty_run_still_gets_a_report() {
    let mut results = fixture::payments_outage();
    results.timeline.clear();
    for v in &mut results.variants {
        v.operations = Operations {
            bonus: Default::default(),
            delivery: Default::default(),
            performance: Default::default(),
        };
        v.backlog = Default::default();
        v.bonus_to_paid_ms = Default::default();
        v.phases.clear();
    }
    let (_, text) = report("empty", &results);
    assert!(text.contains("No fault was injected"), "{text}");
    assert!(text.contains("The run recorded no series to chart."));
    assert!(image_links(&text).is_empty());
    assert!(text.contains("n/a (none sent)"));
}

/// The outage sentence reports each variant's served count in the fault window.
#[test]
fn narrative_follows_the_outage_figures() {
    let results = fixture::payments_outage();
    let (_, text) = report("outage", &results);
    assert!(text.contains("During the 10 s payments crash (t = 10–20 s), bonus requests served"));
    assert!(text.contains("**sync** 2 of 1,000 (0.2 %)"), "{text}");
    assert!(text.contains("**async** all 1,000"));
    assert!(
        text.contains(
            "**async**'s backlog peaked at 1,100 events in the outbox and on the stream at t = \
             20 s, during the 10 s payments crash (t = 10–20 s); it was empty again 0.5 s after \
             the last fault ended."
        ),
        "{text}"
    );

    let mut worse = fixture::payments_outage();
    for point in &mut worse.variants[2].operations.bonus.series {
        if (10..20).contains(&point.t_s) {
            point.ok = 0;
        }
    }
    let (_, text) = report("outage-worse", &worse);
    assert!(text.contains("**async** none of 1,000"), "{text}");
}

/// Predictions agree with matching measurements and are flagged, with reasons, when off by >10 %.
#[test]
fn theory_flags_disagreements_beyond_ten_percent() {
    let (_, text) = report("theory-agrees", &fixture::payments_outage());
    assert!(
        text.contains("| payments crash | async         | Σ λ × A × T"),
        "{text}"
    );
    // The async backlog row agrees; sync's 0.2 % against 0 % predicted differs
    // (one is zero), and the note names the window's blurred edges.
    let async_row = text
        .lines()
        .find(|l| l.starts_with("| payments crash | async         | Σ λ × A × T"))
        .expect("the async backlog row");
    assert!(async_row.ends_with("agrees |"), "{async_row}");
    assert!(text.contains("one is zero and the other is not"), "{text}");

    let mut off = fixture::payments_outage();
    for point in &mut off.variants[2].backlog.series {
        point.backlog /= 2;
    }
    let (_, text) = report("theory-differs", &off);
    assert!(text.contains("Where measurement and theory differ"));
    assert!(
        text.contains("**async**, payments crash: measured 550, predicted 1,100 —"),
        "{text}"
    );
}

/// Null percentiles print "n/a", and faults a variant cannot have are listed.
#[test]
fn nulls_show_na_and_inapplicable_faults_are_listed() {
    let mut results = fixture::payments_outage();
    results.timeline.push(TimelineEntry {
        target: "stream".to_string(),
        kind: "stream-down".to_string(),
        label: "stream down".to_string(),
        start_s: 24.0,
        duration_s: 3.0,
    });
    let fault = results.timeline.len() - 1;
    for v in &mut results.variants[..2] {
        v.not_applicable.push(NotApplicable {
            fault,
            label: "stream down".to_string(),
            reason: "it has no stream".to_string(),
        });
    }
    let (_, text) = report("na", &results);
    assert!(
        text.contains("| `async`         | performance answer |"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("| `async`") && l.contains("performance answer"))
        .expect("performance latency row");
    assert!(row.contains("n/a"), "{row}");
    assert!(text.contains("### Faults that do not apply"));
    assert!(
        text.contains("`sync`: stream down (t = 24–27 s) does not apply — it has no stream"),
        "{text}"
    );
    assert!(
        text.contains(
            "exists only for **async**: **sync** and **sync-buffered** do not have that part"
        ),
        "{text}"
    );
}

/// Applicability is decided by the fault's timeline index: a label or reason
/// worded unlike the timeline still exempts the right fault, and a record for
/// another fault exempts nothing else — even one whose text names it.
#[test]
fn not_applicable_is_matched_by_index_not_wording() {
    let mut results = fixture::payments_outage();
    results.timeline.push(TimelineEntry {
        target: "consumer".to_string(),
        kind: "consumer-crash".to_string(),
        label: "consumer crash".to_string(),
        start_s: 24.0,
        duration_s: 3.0,
    });
    for v in &mut results.variants[..2] {
        v.not_applicable.push(NotApplicable {
            fault: 1,
            label: "the Payments consumer stops".to_string(),
            reason: "unlike the payments crash, nothing consumes here".to_string(),
        });
    }
    let (_, text) = report("na-index", &results);
    // Fault 1 is exempt for both sync variants, whatever the wording...
    assert!(
        text.contains(
            "The 3 s consumer crash (t = 24–27 s) exists only for **async**: **sync** and \
             **sync-buffered** do not have that part"
        ),
        "{text}"
    );
    assert!(
        text.contains("`sync`: the Payments consumer stops (t = 24–27 s) does not apply"),
        "{text}"
    );
    // ...and fault 0, the payments crash, still applies to every variant: its
    // theory rows are there for `sync`, and nothing calls it exempt.
    let theory_row = |fault: &str| {
        text.lines()
            .any(|l| l.starts_with(&format!("| {fault} | sync ")))
    };
    assert!(theory_row("payments crash"), "{text}");
    assert!(!theory_row("consumer crash"), "{text}");
    assert!(
        !text.contains("payments crash (t = 10–20 s) exists only for"),
        "{text}"
    );
}

/// A variant given a different schedule is called out, in the table and in words.
#[test]
fn a_different_schedule_is_flagged() {
    let mut results = fixture::payments_outage();
    results.variants[0].schedule_fingerprint = "0000aaaa".repeat(8);
    let (_, text) = report("fingerprint", &results);
    assert!(text.contains("**DIFFERENT**"));
    assert!(text.contains("**Warning:** **sync** was given a different schedule"));
}

/// A run with an internal error is declared not evidence, with its reason;
/// a run without one is not.
#[test]
fn a_run_with_an_internal_error_is_not_evidence() {
    let mut results = fixture::payments_outage();
    let (_, clean) = report("internal-clean", &results);
    assert!(!clean.contains("Not evidence"), "{clean}");
    results.variants[2].internal_errors = InternalErrors {
        count: 1,
        reasons: vec!["Payments' consumer could not restart: no thread".to_string()],
    };
    let (_, text) = report("internal-error", &results);
    let variant = &results.variants[2].variant;
    assert!(
        text.contains(&format!(
            "**Not evidence:** **{variant}**'s run had 1 internal error"
        )),
        "{text}"
    );
    assert!(text.contains("could not restart: no thread"), "{text}");
}

/// A scenario name that is not a plain file name is refused before anything is written.
#[test]
fn a_path_as_scenario_name_is_refused() {
    let dir = scratch("bad-name");
    let mut results = fixture::payments_outage();
    results.scenario = "../escape".to_string();
    let err = write_scenario_report(&dir, &results).expect_err("must refuse");
    assert!(
        err.to_string().contains("cannot name a report file"),
        "{err}"
    );
    assert!(!dir.join("../escape.md").exists());
}

/// The index links every scenario's report and lists every variant's figures.
#[test]
fn the_index_links_each_report() {
    let dir = scratch("index-links");
    let mut other = fixture::payments_outage();
    other.scenario = "incentives-outage".to_string();
    other.title = "Incentives goes down".to_string();
    other.variants.retain(|v| v.variant == "async");
    write_index(&dir, &[fixture::payments_outage(), other]).expect("write the index");
    let text = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(text.contains("[Payments goes down for 10 seconds](payments-outage.md)"));
    assert!(text.contains("[Incentives goes down](incentives-outage.md)"));
    assert!(text.contains("**sync / sync-buffered / async**"));
    assert!(
        text.contains("| – / – / 1,100 |") || text.contains("– / – / 1,100"),
        "{text}"
    );
}

/// A run the harness cannot vouch for says so above everything, with the
/// reason; a clean one says nothing of the kind. Idempotency off is stated.
#[test]
fn a_run_that_is_not_evidence_says_so() {
    let clean = fixture::payments_outage();
    let (_, text) = report("evidence-clean", &clean);
    assert!(!text.contains("Not evidence"), "{text}");
    assert!(!text.contains("Idempotency off"), "{text}");

    let mut doubtful = fixture::payments_outage();
    doubtful.variants[2].evidence = commlab::results::Evidence::from_reasons(vec![
        "the ledger counts 12 payouts, 11 were read and 11 reconciled".to_string(),
    ]);
    doubtful.idempotency = false;
    let (_, text) = report("evidence-doubtful", &doubtful);
    assert!(text.contains("**Not evidence.**"), "{text}");
    assert!(
        text.contains("`async`: the ledger counts 12 payouts, 11 were read"),
        "{text}"
    );
    assert!(!text.contains("`sync`: "), "{text}");
    assert!(text.contains("**Idempotency off**"), "{text}");
}

// ---- Recorded results: every built-in report, rendered from `reports/*.json` ----

/// The committed recorded results, one per built-in scenario that has run.
fn recorded() -> Vec<ScenarioResults> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("reports/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no recorded results in {}",
        dir.display()
    );
    files
        .iter()
        .map(|f| {
            let text = fs::read_to_string(f).expect("read a results file");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect()
}

/// The figures written in `text`: digit runs with their `,` and `.` inside
/// (`1,599`, `27.2`, `0.1`), as printed.
fn numbers(text: &str) -> Vec<String> {
    numbers_and_tails(text)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// Each number in `text`, with the text that follows it.
fn numbers_and_tails(text: &str) -> Vec<(String, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || (matches!(bytes[i], b',' | b'.')
                        && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit())))
            {
                i += 1;
            }
            out.push((text[start..i].to_string(), &text[i..]));
        } else {
            i += 1;
        }
    }
    out
}

fn value(number: &str) -> f64 {
    number.replace(',', "").parse().expect("a number")
}

/// The page split into what it states in words (the narrative and the
/// first-screen table) and the rest it must agree with.
fn split_page(page: &str) -> (Vec<String>, Vec<String>, String) {
    let section = |from: &str| -> &str {
        let start = page.find(from).unwrap_or_else(|| panic!("no {from:?}"));
        let rest = &page[start + from.len()..];
        // A section ends at the next heading of any level (the lesson's
        // checked claims follow the take-away table as a `###`).
        let end = rest.find("\n#").unwrap_or(rest.len());
        &rest[..end]
    };
    let narrative: Vec<String> = section("\n## What happened\n")
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(str::to_string)
        .collect();
    let takeaway: Vec<String> = section("\n### What to take away\n")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_string)
        .collect();
    // The reference: everything after the first screen, minus the narrative
    // and the lesson's own prose.
    let after = &page[page
        .find("\n## The scenario\n")
        .expect("a scenario section")..];
    let what = after.find("\n## What happened\n").expect("a narrative");
    let rest_start = what + after[what + 1..].find("\n## ").expect("a section after") + 1;
    let mut reference = format!("{}{}", &after[..what], &after[rest_start..]);
    // With repetitions, the figures over every run are in "Across N runs".
    if let Some(start) = page.find("\n## Across ") {
        let across = &page[start..];
        let end = across[1..].find("\n## ").map_or(across.len(), |i| i + 1);
        reference.push_str(&across[..end]);
    }
    (narrative, takeaway, reference)
}

/// Table rows of the reference that belong to `variant`: the rows that name
/// it, and the column it heads in a table with a column per variant ("Across
/// N runs"), as one row.
fn rows_of(reference: &str, variant: &str) -> Vec<String> {
    let tag = format!("`{variant}`");
    let mut rows: Vec<String> = reference
        .lines()
        .filter(|l| l.starts_with('|') && l.contains(&tag))
        .map(str::to_string)
        .collect();
    let cells = |l: &str| -> Vec<String> { l.split('|').map(|c| c.trim().to_string()).collect() };
    let lines: Vec<&str> = reference.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let starts_table = line.starts_with('|') && (i == 0 || !lines[i - 1].starts_with('|'));
        let Some(column) = starts_table
            .then(|| cells(line).iter().position(|c| *c == tag))
            .flatten()
        else {
            continue;
        };
        let column_cells: Vec<String> = lines[i + 1..]
            .iter()
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| cells(l).get(column).cloned())
            .collect();
        rows.push(format!("| {} |", column_cells.join(" | ")));
    }
    rows
}

/// The scenario's own lines — its fault table and its SLO — which any
/// sentence may cite ("during the 3 s payments hang (t = 2–5 s)").
fn scenario_rows(reference: &str) -> Vec<&str> {
    let scenario = &reference[..reference.find("\n## ").map_or(reference.len(), |i| i + 1)];
    let scenario = reference
        .split("\n## ")
        .find(|s| s.starts_with("The scenario"))
        .unwrap_or(scenario);
    scenario
        .lines()
        .filter(|l| l.starts_with('|') || l.starts_with("- **SLO**"))
        .collect()
}

/// A ratio `N×` a sentence states equals what two figures of the same
/// sentence give, rounded as the report rounds (one decimal below 10).
fn ratio_is_from_printed_figures(sentence: &str, ratio: f64, figures: &[String]) -> bool {
    figures.iter().any(|a| {
        figures.iter().any(|b| {
            let (a, b) = (value(a), value(b));
            if b <= 0.0 {
                return false;
            }
            let r = a / b;
            let rounded = if r < 10.0 {
                (r * 10.0).round() / 10.0
            } else {
                r.round()
            };
            (rounded - ratio).abs() < 1e-9
        })
    }) || sentence.is_empty()
}

/// Checks one statement: each figure said of a variant is in that variant's
/// table rows; each figure said of no variant is elsewhere on the page; each
/// ratio is computed from printed figures of the same statement.
fn check_statement(scenario: &str, statement: &str, reference: &str, variants: &[String]) {
    let all_figures = numbers(statement);
    // Segments: text before any **variant**, then one per variant mention.
    let mut segments: Vec<(Option<&str>, String)> = vec![(None, String::new())];
    let mut rest = statement;
    while let Some(open) = rest.find("**") {
        segments.last_mut().unwrap().1.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("**") else {
            break;
        };
        let name = &after[..close];
        match variants.iter().find(|v| v.as_str() == name) {
            Some(v) => segments.push((Some(v.as_str()), String::new())),
            None => segments.last_mut().unwrap().1.push_str(name),
        }
        rest = &after[close + 2..];
    }
    segments.last_mut().unwrap().1.push_str(rest);
    for (variant, text) in &segments {
        for (n, tail) in numbers_and_tails(text) {
            let n = &n;
            // `N×` is a ratio: it must come from two printed figures.
            if tail.starts_with('×') {
                assert!(
                    ratio_is_from_printed_figures(statement, value(n), &all_figures),
                    "{scenario}: the ratio {n}× is not computed from the printed figures of: \
                     {statement}"
                );
                continue;
            }
            // "in 2 of 3 runs" counts runs (checked against the results by
            // `a_repeated_report_says_in_how_many_runs_a_claim_held`); no figure.
            let of_runs = tail.strip_prefix(" of ").is_some_and(|t| {
                t.trim_start_matches(|c: char| c.is_ascii_digit())
                    .starts_with(" runs")
            });
            // "In run 1, …" names the run a sentence describes; no figure.
            let before = &text[..text.len() - tail.len() - n.len()];
            if of_runs || tail.starts_with(" runs") || before.ends_with("run ") {
                continue;
            }
            // An ordinal ("99th-percentile") names a measure; it is no figure.
            if tail.starts_with("th") {
                continue;
            }
            let found = match variant {
                Some(v) => rows_of(reference, v)
                    .iter()
                    .map(String::as_str)
                    .chain(scenario_rows(reference))
                    .any(|row| numbers(row).contains(n)),
                None => numbers(reference).contains(n),
            };
            assert!(
                found,
                "{scenario}: {n} said of {} is in no table of the report:\n  {statement}",
                variant.unwrap_or("the scenario")
            );
        }
    }
}

/// Every built-in report, rendered from its recorded results, states in its
/// narrative and its first-screen table only figures its tables state: the
/// same figure for the same variant, and ratios computed from the printed
/// figures. A backlog peak said to be "during" a fault lies inside it, and
/// one said to be "after" lies after it.
#[test]
fn every_recorded_report_says_what_its_tables_say() {
    for results in recorded().into_iter().chain([repeated()]) {
        let (_, page) = report(&format!("recorded-{}", results.scenario), &results);
        let (narrative, takeaway, reference) = split_page(&page);
        let variants: Vec<String> = results.variants.iter().map(|v| v.variant.clone()).collect();
        assert!(!narrative.is_empty(), "{}: no narrative", results.scenario);
        let runs = results.repetitions.as_ref().map_or(1, |r| r.runs.len());
        if let Some(n) = (runs > 1).then_some(runs) {
            for sentence in &narrative {
                assert!(
                    says_whose_runs(sentence, n),
                    "{}: a sentence of a report over {n} runs says neither in how many it \
                     held nor that it is run 1's:\n  {sentence}",
                    results.scenario
                );
            }
        }
        assert_eq!(
            takeaway.len(),
            variants.len(),
            "{}: one take-away row per variant",
            results.scenario
        );
        for sentence in &narrative {
            check_statement(&results.scenario, sentence, &reference, &variants);
        }
        for row in &takeaway {
            // A take-away row is a statement about the variant it names.
            let name = variants
                .iter()
                .find(|v| row.starts_with(&format!("| `{v}`")))
                .expect("a variant's row");
            let cells = row.replacen(&format!("`{name}`"), "", 1);
            check_statement(
                &results.scenario,
                &format!("**{name}** {cells}"),
                &reference,
                &variants,
            );
        }
        for sentence in narrative.iter().filter(|s| s.contains("peaked at")) {
            let Some(at) = sentence.split("at t = ").nth(1) else {
                continue;
            };
            let t = value(&numbers(at)[0]);
            let Some(window) = sentence.split("(t = ").nth(1) else {
                continue;
            };
            let bounds = numbers(window);
            let (start, end) = (value(&bounds[0]), value(&bounds[1]));
            if at.contains(", during ") {
                assert!(
                    start <= t && t <= end,
                    "{}: not during: {sentence}",
                    results.scenario
                );
            } else if at.contains(" ended: it kept growing") {
                assert!(t > end, "{}: not after: {sentence}", results.scenario);
            }
        }
    }
}

/// A narrative sentence of a report over `n` runs says in how many of them it
/// held ("in 2 of 3 runs") or that it describes run 1 ("In run 1, …", or
/// after a bold label: "**Warning:** in run 1, …").
fn says_whose_runs(sentence: &str, n: usize) -> bool {
    let counted = numbers_and_tails(sentence)
        .iter()
        .any(|(_, tail)| tail.starts_with(&format!(" of {n} runs")));
    let body = sentence
        .strip_prefix("**")
        .and_then(|s| s.split_once(":** "))
        .map_or(sentence, |(_, rest)| rest);
    counted || sentence.starts_with("In run 1, ") || body.starts_with("in run 1, ")
}

/// Three runs of the payments outage: in run 2 sync served every bonus, in
/// run 3 it under-paid five more deliveries than in run 1, and async's
/// backlog was twice as high.
fn repeated() -> ScenarioResults {
    let first = fixture::payments_outage();
    let mut second = first.clone();
    second.seed = 43;
    second.variants[0].operations.bonus.availability = Some(1.0);
    for p in &mut second.variants[0].operations.bonus.series {
        p.ok = p.sent;
    }
    let mut third = first.clone();
    third.seed = 44;
    third.variants[0].deliveries.under_paid += 5;
    let stream = third
        .variants
        .iter_mut()
        .find(|v| v.variant == "async")
        .expect("the fixture has async");
    for p in &mut stream.backlog.series {
        p.backlog *= 2;
    }
    stream.backlog.peak *= 2;
    commlab::repeat::combine(vec![first, second, third])
}

/// With repetitions the availability chart draws each variant's band over the
/// runs (translucent rectangles of its colour) and its caption says so; a
/// single run has none. Run 2 served every sync bonus, so sync's band spans
/// from run 1's share during the outage up to 100 %.
#[test]
fn a_repeated_availability_chart_has_bands() {
    let band = "opacity=\"0.18\" fill=\"#D55E00\"";
    let (dir, text) = report("bands-one", &fixture::payments_outage());
    let svg = fs::read_to_string(dir.join("payments-outage/availability.svg")).unwrap();
    assert!(!svg.contains(band), "a single run has no band");
    assert!(!text.contains("light band"));
    let (dir, text) = report("bands-three", &repeated());
    let svg = fs::read_to_string(dir.join("payments-outage/availability.svg")).unwrap();
    let tall = svg
        .lines()
        .filter(|l| l.starts_with("<rect") && l.contains(band))
        .filter(|l| {
            let h = l
                .split(" height=\"")
                .nth(1)
                .and_then(|h| h.split('"').next());
            h.and_then(|h| h.parse::<f64>().ok())
                .is_some_and(|h| h > 50.0)
        })
        .count();
    assert!(
        tall >= 1,
        "sync's band during the outage spans most of the panel"
    );
    assert!(
        text.contains("over the 3 runs"),
        "the caption names the band"
    );
}

/// With repetitions the backlog chart draws each variant's band of per-second
/// peaks over the runs, and its caption says so; a single run has none.
/// Run 3's async backlog was twice run 1's, so async's band during the
/// outage is tall, and the axis reaches its top.
#[test]
fn a_repeated_backlog_chart_has_bands() {
    let band = "opacity=\"0.18\" fill=\"#0072B2\"";
    let (dir, text) = report("backlog-bands-one", &fixture::payments_outage());
    let svg = fs::read_to_string(dir.join("payments-outage/backlog.svg")).unwrap();
    assert!(!svg.contains(band), "a single run has no band");
    assert!(!text.contains("backlog peak of that second"));
    let (dir, text) = report("backlog-bands-three", &repeated());
    let svg = fs::read_to_string(dir.join("payments-outage/backlog.svg")).unwrap();
    let rects: Vec<(f64, f64)> = svg
        .lines()
        .filter(|l| l.starts_with("<rect") && l.contains(band))
        .map(|l| (attribute(l, "y"), attribute(l, "height")))
        .collect();
    assert!(
        rects.iter().any(|(_, h)| *h > 50.0),
        "async's band during the outage spans a large part of the panel: {rects:?}"
    );
    // The panel's frame starts below the legend; no band pokes above it.
    assert!(rects.iter().all(|(y, _)| *y >= 40.0), "{rects:?}");
    assert!(
        text.contains("backlog peak of that second over the 3 runs"),
        "the caption names the band"
    );
}

/// With repetitions, the narrative's claims say in how many runs they held,
/// counted from every run's figures, with each figure as `median (min–max)`.
#[test]
fn a_repeated_report_says_in_how_many_runs_a_claim_held() {
    let results = repeated();
    let (_, page) = report("repeated-claims", &results);
    let (narrative, takeaway, _) = split_page(&page);
    let availability = narrative
        .iter()
        .find(|s| s.starts_with("Over the runs,"))
        .expect("a claim over the runs");
    let sync = availability
        .split("than **sync**, ")
        .nth(1)
        .expect("sync compared");
    assert!(sync.contains("), in 2 of 3 runs"), "{availability}");
    assert!(
        sync.starts_with("at 66.7 % (66.7 %–100 %)"),
        "a spread: {availability}"
    );
    let base = fixture::payments_outage().variants[0].deliveries.under_paid;
    let under_paid = narrative
        .iter()
        .find(|s| s.starts_with("**sync** ") && s.contains("under-paid requests"))
        .expect("sync's money over the runs");
    let held = if base > 0 { 3 } else { 1 };
    assert!(
        under_paid.contains(&format!("under-paid requests in {held} of 3 runs")),
        "{under_paid}"
    );
    assert!(
        takeaway.iter().all(|row| row.matches(" (").count() >= 1),
        "{takeaway:?}"
    );
    assert!(
        page.contains("bonuses served, 3 runs"),
        "the take-away's column over the runs"
    );
}

/// The first screen is short: the lesson within ~120 words, then one chart,
/// then the take-away table, before any other section.
#[test]
fn every_recorded_report_opens_with_its_lesson_one_chart_and_the_figures() {
    for results in recorded() {
        let (_, page) = report(&format!("first-{}", results.scenario), &results);
        let lesson = page.split("## The lesson\n").nth(1).expect("a lesson");
        let first_screen = &lesson[..lesson.find("\n## ").expect("more sections")];
        let prose = first_screen
            .split("\n![")
            .next()
            .expect("the lesson's text");
        let words = prose.split_whitespace().count();
        assert!(
            words <= 130,
            "{}: the lesson is {words} words",
            results.scenario
        );
        assert_eq!(
            image_links(first_screen).len(),
            1,
            "{}: one chart",
            results.scenario
        );
        assert!(
            first_screen.contains("### What to take away"),
            "{}",
            results.scenario
        );
        // A singular count with a plural noun, as a whole number ("21 worker
        // threads" is fine).
        let singular_plural = page
            .match_indices("1 worker threads")
            .any(|(i, _)| i == 0 || !page.as_bytes()[i - 1].is_ascii_digit());
        assert!(
            !singular_plural,
            "{}: \"1 worker threads\"",
            results.scenario
        );
        if results.timeline.is_empty() {
            assert!(
                !page.contains("last fault's end"),
                "{}: \"last fault's end\"",
                results.scenario
            );
        }
    }
}

/// Every chart of every recorded report, and the index's, renders with
/// librsvg (`rsvg-convert`, Debian package librsvg2-bin) to a non-empty PNG.
/// Skipped, and said so, where the tool is not installed.
#[test]
fn every_chart_renders_with_librsvg() {
    if std::process::Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("rsvg-convert is not installed (apt-get install librsvg2-bin): skipped");
        return;
    }
    let all = recorded();
    let dir = scratch("librsvg");
    for results in &all {
        write_scenario_report(&dir, results).expect("write a report");
    }
    write_index(&dir, &all).expect("write the index");
    let mut svgs: Vec<PathBuf> = vec![dir.join("tradeoff.svg")];
    for results in &all {
        for entry in fs::read_dir(dir.join(&results.scenario)).expect("a chart directory") {
            svgs.push(entry.expect("an entry").path());
        }
    }
    assert!(svgs.len() > all.len() * 3, "too few charts: {}", svgs.len());
    // The synthetic run has the per-second money series (results recorded
    // before it existed do not), so the money-over-time chart is rendered too.
    let synthetic = dir.join("synthetic");
    write_scenario_report(&synthetic, &fixture::payments_outage()).expect("write a report");
    let over_time = synthetic.join("payments-outage/money-over-time.svg");
    assert!(over_time.exists(), "no money-over-time chart");
    svgs.push(over_time);
    // A repeated run: its availability chart has the bands over the runs.
    let repeated_dir = dir.join("repeated");
    write_scenario_report(&repeated_dir, &repeated()).expect("write a report");
    svgs.push(repeated_dir.join("payments-outage/availability.svg"));
    for svg in svgs
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        let png = svg.with_extension("png");
        let status = std::process::Command::new("rsvg-convert")
            .arg("-o")
            .arg(&png)
            .arg(svg)
            .status()
            .expect("run rsvg-convert");
        assert!(status.success(), "rsvg-convert failed on {}", svg.display());
        let bytes = fs::read(&png).expect("read the PNG");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
            "{}: empty PNG",
            svg.display()
        );
    }
}

/// Where availability is flat and money went wrong, the first screen shows
/// money over time; results recorded before the per-second series fall back
/// to the totals.
#[test]
fn a_money_lesson_leads_with_money_over_time() {
    let mut results = fixture::payments_outage();
    for v in &mut results.variants {
        v.operations.bonus.availability = Some(1.0);
    }
    let first_chart = |results: &ScenarioResults, test: &str| {
        let (_, text) = report(test, results);
        let lesson = text.split("## The lesson\n").nth(1).expect("a lesson");
        image_links(lesson).into_iter().next().expect("a chart")
    };
    assert_eq!(
        first_chart(&results, "key-money-over-time"),
        "payments-outage/money-over-time.svg"
    );
    for v in &mut results.variants {
        v.money_series.clear();
    }
    assert_eq!(
        first_chart(&results, "key-money-totals"),
        "payments-outage/money.svg"
    );
}

/// The configuration section states what the results recorded, not the
/// code's defaults.
#[test]
fn the_configuration_section_reads_the_recorded_configuration() {
    let mut results = fixture::payments_outage();
    results.variants[0].configuration["workers"] = serde_json::json!(3);
    results.variants[0].configuration["call_timeout_ms"] = serde_json::json!(250.0);
    let (_, text) = report("configuration", &results);
    let section = text
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a configuration section");
    let row = section
        .lines()
        .find(|l| l.starts_with("| `sync` "))
        .expect("a row for sync");
    assert!(row.contains("3 workers per service"), "{row}");
    assert!(row.contains("call timeout 250 ms"), "{row}");
    let buffered = section
        .lines()
        .find(|l| l.starts_with("| `sync-buffered` "))
        .expect("a row for sync-buffered");
    let workers = &results.variants[1].configuration["workers"];
    assert!(
        buffered.contains(&format!("{workers} workers per service")),
        "{buffered}"
    );
}
