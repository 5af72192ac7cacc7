//! Similar artists on the real HetRec 2011 Last.fm-2k data, which the workspace keeps beside
//! the project at `../shared/data/lastfm-2k` (never copied into the repository).

use bart_models::als::{self, AlsConfig};
use bart_models::knn::{IndexKind, VectorIndex};
use bart_models::lastfm;
use bart_models::metrics::tag_agreement;
use std::path::PathBuf;

#[test]
fn most_similar_artists_share_a_top_tag_with_the_query() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/lastfm-2k");
    assert!(
        dir.join("user_artists.dat").exists(),
        "the Last.fm-2k data is expected at {}",
        dir.display()
    );
    let imported = lastfm::import(&dir).unwrap();
    let data = &imported.data;
    assert_eq!(
        (data.listeners.len(), data.artists.len(), data.plays.nnz()),
        (1_892, 17_632, 92_834)
    );
    assert_eq!(
        (data.tags.len(), imported.skipped_tag_assignments),
        (11_946, 1_538)
    );
    assert!(data.tags.iter().any(|t| t == "rock français"));

    let f = als::fit(&data.plays, &AlsConfig::default(), |_, _| {}).unwrap();
    let index = VectorIndex::build(&f.item_vectors(), f.rank, IndexKind::Exact, |_| {}).unwrap();
    // Over every artist with at least 20 listeners: of their 10 most similar artists, the
    // share with one of the query's 5 most applied tags among their own 5.
    let agreement = tag_agreement(data, &index, 10, 20, 5);
    eprintln!("{agreement:?}");
    assert_eq!(agreement.queries, 804);
    assert!(agreement.share > 0.5, "{agreement:?}");
}
