//! Checks shared by the demo's integration tests.

use bart_sim::experiment::DemoReport;

/// On the demo's last day BaRT streams more than random with disjoint intervals, and the
/// off-policy estimates (IPS, SNIPS) from the random pages fall inside BaRT's online interval.
pub fn assert_bart_learned(report: &DemoReport) {
    let last = report.last_day();
    assert!(
        last.bart.value > last.random.value && last.bart.disjoint(&last.random),
        "BaRT {:?} vs random {:?}",
        last.bart,
        last.random
    );
    for e in [report.offline.ips, report.offline.snips] {
        assert!(
            last.bart.contains(e.value),
            "offline {e:?} outside online {:?}",
            last.bart
        );
    }
}
