//! Catalog entities (genres, regions, artists, items, clusters of artists) and listeners.

use crate::ids::{ArtistId, ClusterId, GenreId, ItemId, ListenerId, RegionId};
use serde::{Deserialize, Serialize};

/// What a card links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Track,
    Album,
    Playlist,
    Artist,
}

impl ItemKind {
    /// All kinds, in a fixed order.
    pub const ALL: [ItemKind; 4] = [
        ItemKind::Track,
        ItemKind::Album,
        ItemKind::Playlist,
        ItemKind::Artist,
    ];

    /// Lower-case name, as used in features and text output.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Track => "track",
            ItemKind::Album => "album",
            ItemKind::Playlist => "playlist",
            ItemKind::Artist => "artist",
        }
    }
}

/// The device family a listener uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Mobile,
    Desktop,
    Web,
    Speaker,
}

impl Platform {
    /// All platforms, in a fixed order.
    pub const ALL: [Platform; 4] = [
        Platform::Mobile,
        Platform::Desktop,
        Platform::Web,
        Platform::Speaker,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Mobile => "mobile",
            Platform::Desktop => "desktop",
            Platform::Web => "web",
            Platform::Speaker => "speaker",
        }
    }
}

/// A listener's age bracket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeGroup {
    Under25,
    From25To34,
    From35To49,
    Over50,
}

impl AgeGroup {
    /// All age groups, in a fixed order.
    pub const ALL: [AgeGroup; 4] = [
        AgeGroup::Under25,
        AgeGroup::From25To34,
        AgeGroup::From35To49,
        AgeGroup::Over50,
    ];

    /// Short name, as used in features.
    pub fn name(self) -> &'static str {
        match self {
            AgeGroup::Under25 => "<25",
            AgeGroup::From25To34 => "25-34",
            AgeGroup::From35To49 => "35-49",
            AgeGroup::Over50 => "50+",
        }
    }
}

/// A genre or tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Genre {
    pub id: GenreId,
    pub name: String,
}

/// A region (market).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
}

/// An artist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artist {
    pub id: ArtistId,
    pub name: String,
    /// Genres, most characteristic first; never empty.
    pub genres: Vec<GenreId>,
    /// Popularity in [0, 1].
    pub popularity: f64,
}

/// Something a card can show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub kind: ItemKind,
    pub title: String,
    pub artist: ArtistId,
    /// Genres, most characteristic first; never empty.
    pub genres: Vec<GenreId>,
    /// Popularity in [0, 1].
    pub popularity: f64,
    /// Release date as days since 1970-01-01.
    pub release_day: u32,
}

impl Item {
    /// The item's main genre.
    pub fn genre(&self) -> GenreId {
        self.genres[0]
    }
}

/// A listener's public profile (what the recommender may see).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub id: ListenerId,
    pub region: RegionId,
    /// The platform the listener uses most.
    pub platform: Platform,
    pub age_group: AgeGroup,
}

/// Artists that are listened to alike (k-means over their embeddings), named by their tags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: ClusterId,
    pub name: String,
    /// The member artists, ascending; an artist belongs to at most one cluster.
    pub artists: Vec<ArtistId>,
}

/// Everything that can be recommended, indexed by id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub genres: Vec<Genre>,
    pub regions: Vec<Region>,
    pub artists: Vec<Artist>,
    pub items: Vec<Item>,
    /// Clusters of artists, when embeddings were fitted on the listening (none otherwise).
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

impl Catalog {
    /// The item with this id, if it exists.
    pub fn item(&self, id: ItemId) -> Option<&Item> {
        self.items.get(id.index())
    }

    /// The artist with this id, if it exists.
    pub fn artist(&self, id: ArtistId) -> Option<&Artist> {
        self.artists.get(id.index())
    }

    /// The name of a genre, or `"genre <id>"` if unknown.
    pub fn genre_name(&self, id: GenreId) -> String {
        self.genres
            .get(id.index())
            .map_or_else(|| format!("genre {id}"), |g| g.name.clone())
    }

    /// The name of a region, or `"region <id>"` if unknown.
    pub fn region_name(&self, id: RegionId) -> String {
        self.regions
            .get(id.index())
            .map_or_else(|| format!("region {id}"), |r| r.name.clone())
    }

    /// The name of a cluster, or `"cluster <id>"` if unknown.
    pub fn cluster_name(&self, id: ClusterId) -> String {
        self.clusters
            .get(id.index())
            .map_or_else(|| format!("cluster {id}"), |c| c.name.clone())
    }

    /// The name of an artist, or `"artist <id>"` if unknown.
    pub fn artist_name(&self, id: ArtistId) -> String {
        self.artist(id)
            .map_or_else(|| format!("artist {id}"), |a| a.name.clone())
    }
}
