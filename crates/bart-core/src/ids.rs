//! Typed ids. Each id is the index of its entity in the catalog's vectors.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The id as an index into the catalog vector that holds its entity.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A catalog item: a track, album, playlist or artist card.
    ItemId(u32)
);
id!(
    /// An artist.
    ArtistId(u32)
);
id!(
    /// A listener (user).
    ListenerId(u32)
);
id!(
    /// A genre (also used as a tag).
    GenreId(u16)
);
id!(
    /// A cluster of artists that listen alike (k-means over their embeddings), named by tags.
    ClusterId(u16)
);
id!(
    /// A region (country or market).
    RegionId(u16)
);
id!(
    /// One served page. Sampling for the page is seeded from it, so it is also the replay key.
    ImpressionId(u64)
);
