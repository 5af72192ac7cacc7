//! Explanations: the reason a shelf exists, which is also its title.

use crate::catalog::{Catalog, Platform};
use crate::ids::{ArtistId, ClusterId, GenreId, RegionId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A shelf generator instance: a kind plus its argument. It defines which items it validly
/// explains and gives the shelf its title.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "arg", rename_all = "snake_case")]
pub enum Explanation {
    /// Items by (or close to) an artist the listener streamed recently.
    BecauseYouListened(ArtistId),
    /// Items of the listener's favourite genre.
    YourTopGenre(GenreId),
    /// Items popular in the listener's region.
    PopularIn(RegionId),
    /// Items the listener streamed before.
    JumpBackIn,
    /// Items of a genre new to the listener.
    Discover(GenreId),
    /// Items popular on the platform the listener is using.
    PopularOn(Platform),
    /// Items of a cluster of artists new to the listener.
    DiscoverCluster(ClusterId),
}

/// The kind of an explanation, without its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationKind {
    BecauseYouListened,
    YourTopGenre,
    PopularIn,
    JumpBackIn,
    Discover,
    PopularOn,
    DiscoverCluster,
}

impl ExplanationKind {
    /// All kinds, in a fixed order. New kinds are appended: a kind's position is hashed into
    /// model features and stored.
    pub const ALL: [ExplanationKind; 7] = [
        ExplanationKind::BecauseYouListened,
        ExplanationKind::YourTopGenre,
        ExplanationKind::PopularIn,
        ExplanationKind::JumpBackIn,
        ExplanationKind::Discover,
        ExplanationKind::PopularOn,
        ExplanationKind::DiscoverCluster,
    ];

    /// Snake-case name, as used in features and logs.
    pub fn name(self) -> &'static str {
        match self {
            ExplanationKind::BecauseYouListened => "because_you_listened",
            ExplanationKind::YourTopGenre => "your_top_genre",
            ExplanationKind::PopularIn => "popular_in",
            ExplanationKind::JumpBackIn => "jump_back_in",
            ExplanationKind::Discover => "discover",
            ExplanationKind::PopularOn => "popular_on",
            ExplanationKind::DiscoverCluster => "discover_cluster",
        }
    }
}

impl Explanation {
    /// The kind, without the argument.
    pub fn kind(&self) -> ExplanationKind {
        match self {
            Explanation::BecauseYouListened(_) => ExplanationKind::BecauseYouListened,
            Explanation::YourTopGenre(_) => ExplanationKind::YourTopGenre,
            Explanation::PopularIn(_) => ExplanationKind::PopularIn,
            Explanation::JumpBackIn => ExplanationKind::JumpBackIn,
            Explanation::Discover(_) => ExplanationKind::Discover,
            Explanation::PopularOn(_) => ExplanationKind::PopularOn,
            Explanation::DiscoverCluster(_) => ExplanationKind::DiscoverCluster,
        }
    }

    /// The argument as a number (0 for kinds without one), for hashing.
    pub fn arg(&self) -> u32 {
        match *self {
            Explanation::BecauseYouListened(a) => a.0,
            Explanation::YourTopGenre(g) | Explanation::Discover(g) => u32::from(g.0),
            Explanation::PopularIn(r) => u32::from(r.0),
            Explanation::JumpBackIn => 0,
            // Fixed numbers, independent of the declaration order of `Platform`.
            Explanation::PopularOn(p) => match p {
                Platform::Mobile => 0,
                Platform::Desktop => 1,
                Platform::Web => 2,
                Platform::Speaker => 3,
            },
            Explanation::DiscoverCluster(c) => u32::from(c.0),
        }
    }

    /// The human title of the shelf. This is the one table of titles.
    pub fn title(&self, catalog: &Catalog) -> String {
        match *self {
            Explanation::BecauseYouListened(a) => {
                format!("Because you listened to {}", catalog.artist_name(a))
            }
            Explanation::YourTopGenre(g) => format!("Your top genre: {}", catalog.genre_name(g)),
            Explanation::PopularIn(r) => format!("Popular in {}", catalog.region_name(r)),
            Explanation::JumpBackIn => "Jump back in".to_string(),
            Explanation::Discover(g) => format!("Discover: {}", catalog.genre_name(g)),
            Explanation::PopularOn(p) => match p {
                Platform::Speaker => "Popular on smart speakers".to_string(),
                _ => format!("Popular on {}", p.name()),
            },
            Explanation::DiscoverCluster(c) => format!("Discover: {}", catalog.cluster_name(c)),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Explanation::JumpBackIn => f.write_str(self.kind().name()),
            _ => write!(f, "{}({})", self.kind().name(), self.arg()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Artist, Cluster, Genre, Region};
    use crate::ids::ArtistId;

    #[test]
    fn titles_read_as_text() {
        let catalog = Catalog {
            genres: vec![Genre {
                id: GenreId(0),
                name: "afrobeat".into(),
            }],
            regions: vec![Region {
                id: RegionId(0),
                name: "Brazil".into(),
            }],
            artists: vec![Artist {
                id: ArtistId(0),
                name: "Radiohead".into(),
                genres: vec![GenreId(0)],
                popularity: 0.5,
            }],
            items: vec![],
            clusters: vec![Cluster {
                id: ClusterId(0),
                name: "black metal, death metal".into(),
                artists: vec![ArtistId(0)],
            }],
        };
        let t = |e: Explanation| e.title(&catalog);
        assert_eq!(
            t(Explanation::BecauseYouListened(ArtistId(0))),
            "Because you listened to Radiohead"
        );
        assert_eq!(t(Explanation::PopularIn(RegionId(0))), "Popular in Brazil");
        assert_eq!(t(Explanation::JumpBackIn), "Jump back in");
        assert_eq!(t(Explanation::Discover(GenreId(0))), "Discover: afrobeat");
        assert_eq!(
            t(Explanation::DiscoverCluster(ClusterId(0))),
            "Discover: black metal, death metal"
        );
        assert_eq!(
            t(Explanation::DiscoverCluster(ClusterId(3))),
            "Discover: cluster 3"
        );
        assert_eq!(
            t(Explanation::YourTopGenre(GenreId(0))),
            "Your top genre: afrobeat"
        );
        let popular_on = Platform::ALL.map(|p| t(Explanation::PopularOn(p)));
        assert_eq!(
            popular_on,
            [
                "Popular on mobile",
                "Popular on desktop",
                "Popular on web",
                "Popular on smart speakers"
            ]
        );
    }

    #[test]
    fn kinds_keep_their_positions_and_platforms_their_numbers() {
        // Positions and args are hashed into model features: appending is the only change.
        let names = ExplanationKind::ALL.map(ExplanationKind::name);
        assert_eq!(
            names,
            [
                "because_you_listened",
                "your_top_genre",
                "popular_in",
                "jump_back_in",
                "discover",
                "popular_on",
                "discover_cluster"
            ]
        );
        for (i, kind) in ExplanationKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
        }
        assert_eq!(
            Explanation::PopularOn(Platform::Mobile).kind(),
            ExplanationKind::PopularOn
        );
        let args = Platform::ALL.map(|p| Explanation::PopularOn(p).arg());
        assert_eq!(args, [0, 1, 2, 3]);
        assert_eq!(
            Explanation::PopularOn(Platform::Speaker).to_string(),
            "popular_on(3)"
        );
    }

    #[test]
    fn explanation_json_is_kind_and_arg() {
        let e = Explanation::BecauseYouListened(ArtistId(42));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"because_you_listened","arg":42}"#);
        assert_eq!(serde_json::from_str::<Explanation>(&json).unwrap(), e);

        let e = Explanation::PopularOn(Platform::Speaker);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"popular_on","arg":"speaker"}"#);
        assert_eq!(serde_json::from_str::<Explanation>(&json).unwrap(), e);
        assert_eq!(
            serde_json::from_str::<ExplanationKind>(r#""popular_on""#).unwrap(),
            ExplanationKind::PopularOn
        );
        let e = Explanation::DiscoverCluster(ClusterId(7));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"discover_cluster","arg":7}"#);
        assert_eq!(serde_json::from_str::<Explanation>(&json).unwrap(), e);
        assert_eq!(e.to_string(), "discover_cluster(7)");
    }
}
