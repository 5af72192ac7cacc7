//! The features of a card, (context, item, explanation, slot), in five namespaces named by
//! their initials: `c` context, `i` item, `e` explanation, `r` how item and explanation
//! relate to this listener, `p` position. Every feature is `key=value` (or `key:real`) text
//! in its namespace, so the hashed features equal those VW text with the same names gets:
//! bart's logs exported as `cb_adf` read back to the same model inputs. Position is a feature
//! so training can separate it from appeal; ranking scores are taken at row 0, column 0.

use crate::features::{Features, Namespace};
use bart_core::{ArtistId, ClusterId, Context, Explanation, GenreId, Item, ItemId, ListenerId};
use bart_models::{Affinity, ArtistEmbeddings};
use rustc_hash::FxHashMap;
use std::fmt::Write;
use std::sync::Arc;

/// A position on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub row: u16,
    pub column: u16,
}

impl Slot {
    /// The top-left slot, where ranking scores are taken.
    pub const TOP_LEFT: Slot = Slot { row: 0, column: 0 };
}

/// Where features go: hashed into a [`Features`] buffer, or written as VW text.
pub trait FeatureSink {
    /// Starts a namespace.
    fn namespace(&mut self, name: &'static str);
    /// A categorical feature `key=value`.
    fn add(&mut self, key: &'static str, value: u64);
    /// A real-valued feature `key:value`.
    fn real(&mut self, key: &'static str, value: f32);
}

/// Hashes features into a buffer.
pub struct Hashing<'a> {
    pub out: &'a mut Features,
    ns: Namespace,
}

impl<'a> Hashing<'a> {
    pub fn new(out: &'a mut Features) -> Self {
        Hashing {
            out,
            ns: Namespace::new(b""),
        }
    }
}

impl FeatureSink for Hashing<'_> {
    fn namespace(&mut self, name: &'static str) {
        self.ns = Namespace::new(name.as_bytes());
        self.out.namespace(&self.ns);
    }
    fn add(&mut self, key: &'static str, value: u64) {
        self.out.add(&self.ns, key, value);
    }
    fn real(&mut self, key: &'static str, value: f32) {
        self.out.push(self.ns.id(key.as_bytes()), value);
    }
}

/// Writes features as VW text: ` |c region=3 ...`.
pub struct VwText<'a>(pub &'a mut String);

impl FeatureSink for VwText<'_> {
    fn namespace(&mut self, name: &'static str) {
        let sep = if self.0.is_empty() || self.0.ends_with(' ') {
            ""
        } else {
            " "
        };
        let _ = write!(self.0, "{sep}|{name}");
    }
    fn add(&mut self, key: &'static str, value: u64) {
        let _ = write!(self.0, " {key}={value}");
    }
    fn real(&mut self, key: &'static str, value: f32) {
        let _ = write!(self.0, " {key}:{value}");
    }
}

/// The context namespace, computed once per page. Breadth is how many genres make up at
/// least 10% of the listener's plays (0 for a listener without history).
pub fn context_features(ctx: &Context, affinity: &Affinity, out: &mut impl FeatureSink) {
    let breadth = affinity
        .top_genres(ctx.listener)
        .iter()
        .filter(|(_, s)| *s >= 0.1)
        .count()
        .min(4) as u64;
    out.namespace("c");
    out.add("region", u64::from(ctx.region.0));
    out.add("platform", ctx.platform as u64);
    out.add("age", ctx.age_group as u64);
    out.add("daypart", u64::from(ctx.daypart()));
    out.add("weekend", u64::from(ctx.weekday >= 5));
    out.add("breadth", breadth);
}

/// What the relation features look up about the listener of a context: positions in its
/// most-recent-first lists and its shares of plays. [`Scan`] reads the lists (one card at a
/// time); [`Listener`] indexes them once for a page of many cards. Both give the same answers.
pub trait ListenerFacts {
    /// Position of the item in the context's recent items.
    fn recent_item(&self, item: ItemId) -> Option<usize>;
    /// Position of the artist in the context's recent artists.
    fn recent_artist(&self, artist: ArtistId) -> Option<usize>;
    /// Rank of the genre among the listener's top genres.
    fn genre_rank(&self, genre: GenreId) -> Option<usize>;
    /// The listener's share of plays of the genre (0 if never played).
    fn genre_share(&self, genre: GenreId) -> f32;
    /// The listener's share of plays of the artist (0 if never played).
    fn artist_share(&self, artist: ArtistId) -> f32;
    /// The listener's share of plays of the cluster's artists (0 if never played).
    fn cluster_share(&self, cluster: ClusterId) -> f32;
    /// The listener's predicted preference for the artist (0 without embeddings).
    fn preference(&self, artist: ArtistId) -> f32;
    /// What the artist adds to a relation.
    fn artist_part(&self, artist: ArtistId) -> ArtistPart {
        ArtistPart::new(self.recent_artist(artist), self.artist_share(artist))
    }
    /// What the genre adds to a relation.
    fn genre_part(&self, genre: GenreId) -> GenrePart {
        GenrePart::new(self.genre_share(genre))
    }
}

/// What an item's artist adds to its relation: how recently the listener played them and
/// their share of the listener's plays, bucketed, and the share itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArtistPart {
    recency: u64,
    affinity: u64,
    share: f32,
}

impl ArtistPart {
    fn new(position: Option<usize>, share: f32) -> Self {
        ArtistPart {
            recency: recency(position),
            affinity: bucket(share, &[1e-6, 0.02, 0.05, 0.1]),
            share,
        }
    }
}

/// What an item's genre adds to its relation: the listener's share of plays of it, bucketed
/// and as a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenrePart {
    affinity: u64,
    share: f32,
}

impl GenrePart {
    fn new(share: f32) -> Self {
        GenrePart {
            affinity: bucket(share, &[1e-6, 0.05, 0.15, 0.3]),
            share,
        }
    }
}

/// [`ListenerFacts`] by scanning the context's lists.
pub struct Scan<'a> {
    pub ctx: &'a Context,
    pub affinity: &'a Affinity,
}

impl ListenerFacts for Scan<'_> {
    fn recent_item(&self, item: ItemId) -> Option<usize> {
        self.ctx.recent_items.iter().position(|&i| i == item)
    }
    fn recent_artist(&self, artist: ArtistId) -> Option<usize> {
        self.ctx.recent_artists.iter().position(|&a| a == artist)
    }
    fn genre_rank(&self, genre: GenreId) -> Option<usize> {
        let top = self.affinity.top_genres(self.ctx.listener);
        top.iter().position(|&(g, _)| g == genre)
    }
    fn genre_share(&self, genre: GenreId) -> f32 {
        self.affinity.genre(self.ctx.listener, genre)
    }
    fn artist_share(&self, artist: ArtistId) -> f32 {
        self.affinity.artist(self.ctx.listener, artist)
    }
    fn cluster_share(&self, cluster: ClusterId) -> f32 {
        self.affinity.cluster(self.ctx.listener, cluster)
    }
    fn preference(&self, artist: ArtistId) -> f32 {
        self.affinity.preference(self.ctx.listener, artist)
    }
}

/// [`ListenerFacts`] from tables built once per context. The artist and genre tables are
/// dense, with a last entry for every id beyond them, so a lookup has no branch.
#[derive(Clone, Debug, Default)]
pub struct Listener {
    recent_items: FxHashMap<ItemId, usize>,
    /// Rank and share of each of the listener's top genres, by genre index (genres are few).
    genres: Vec<Option<(usize, f32)>>,
    /// By genre index, then one for every other genre.
    genre_parts: Vec<GenrePart>,
    /// By artist index, the place in `artists` of every artist among the recent ones or in
    /// the listener's plays; 0 (no plays, not recent) for the others, and for every artist
    /// beyond the table (its last entry).
    artist_at: Vec<u32>,
    /// The places of artists beyond the table ([`DENSE_ARTISTS`]): empty but for stray ids.
    stray_artists: FxHashMap<ArtistId, u32>,
    /// Position among the recent artists and share of plays; an unknown artist's first.
    artists: Vec<(Option<usize>, f32)>,
    /// The same, as they add to a relation.
    artist_parts: Vec<ArtistPart>,
    clusters: FxHashMap<ClusterId, f32>,
    /// The listener and the embeddings their preferences come from.
    preferences: Option<(ListenerId, Arc<ArtistEmbeddings>)>,
    /// What the recent items may hold: most candidates are items the listener did not play
    /// lately, and their lookups end at one bit.
    seen: Seen,
}

/// Artist ids below this are looked up in a dense table per page (at most 256 KB).
const DENSE_ARTISTS: usize = 1 << 16;

/// A one-hash Bloom filter of 4,096 bits over (table, id).
#[derive(Clone, Debug)]
struct Seen(Box<[u64; 64]>);

impl Default for Seen {
    fn default() -> Self {
        Seen(Box::new([0; 64]))
    }
}

impl Seen {
    const ITEM: u32 = 0;
    const CLUSTER: u32 = 1;

    fn bit(table: u32, id: u32) -> (usize, u64) {
        let h = (u64::from(table) << 32 | u64::from(id)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52;
        ((h / 64) as usize, 1 << (h % 64))
    }

    fn insert(&mut self, table: u32, id: u32) {
        let (word, bit) = Seen::bit(table, id);
        self.0[word] |= bit;
    }

    fn may_hold(&self, table: u32, id: u32) -> bool {
        let (word, bit) = Seen::bit(table, id);
        self.0[word] & bit != 0
    }
}

impl Listener {
    /// Indexes what the relation features need of `ctx`'s listener.
    pub fn new(ctx: &Context, affinity: &Affinity) -> Self {
        // The first position of each entry, as a scan finds it.
        fn first<K: std::hash::Hash + Eq + Copy>(list: &[K]) -> FxHashMap<K, usize> {
            let mut at = FxHashMap::default();
            for (i, &k) in list.iter().enumerate() {
                at.entry(k).or_insert(i);
            }
            at
        }
        let top = affinity.top_genres(ctx.listener);
        let mut genres = vec![None; top.iter().map(|(g, _)| g.index() + 1).max().unwrap_or(0)];
        for (rank, &(g, share)) in top.iter().enumerate() {
            genres[g.index()].get_or_insert((rank, share));
        }
        let genre_parts = genres
            .iter()
            .chain([&None])
            .map(|g| GenrePart::new(g.map_or(0.0, |(_, share)| share)))
            .collect();
        let top_artists = affinity.top_artists(ctx.listener);
        // The table covers every known id below DENSE_ARTISTS - 1, and one more entry (0) for
        // the ids beyond; known ids from there on go to the side table.
        let known = || {
            let top = top_artists.iter().map(|(a, _)| a);
            ctx.recent_artists.iter().chain(top).map(|a| a.index())
        };
        let dense = known().filter(|&i| i + 2 <= DENSE_ARTISTS).max();
        let mut artist_at = vec![0u32; dense.map_or(1, |i| i + 2)];
        let mut stray: FxHashMap<ArtistId, u32> = FxHashMap::default();
        let mut artists = vec![(None, 0.0)];
        // The artist's place in `artists`, made with `new` the first time.
        let mut place = |a: ArtistId, new: Option<usize>, artists: &mut Vec<_>| {
            let last = artist_at.len() - 1;
            let at = match artist_at.get_mut(a.index()).filter(|_| a.index() < last) {
                Some(at) => at,
                None => stray.entry(a).or_insert(0),
            };
            if *at == 0 {
                artists.push((new, 0.0));
                *at = artists.len() as u32 - 1;
            }
            *at as usize
        };
        for (at, &a) in ctx.recent_artists.iter().enumerate() {
            place(a, Some(at), &mut artists);
        }
        // Backwards, so the first share of each artist is the one kept, as a scan finds it.
        for &(a, share) in top_artists.iter().rev() {
            let at = place(a, None, &mut artists);
            artists[at].1 = share;
        }
        let artist_parts = artists
            .iter()
            .map(|&(at, share)| ArtistPart::new(at, share))
            .collect();
        let mut seen = Seen::default();
        for i in &ctx.recent_items {
            seen.insert(Seen::ITEM, i.0);
        }
        let mut clusters = FxHashMap::default();
        for &(c, share) in affinity.top_clusters(ctx.listener) {
            clusters.entry(c).or_insert(share);
            seen.insert(Seen::CLUSTER, u32::from(c.0));
        }
        Listener {
            recent_items: first(&ctx.recent_items),
            genres,
            genre_parts,
            artist_at,
            stray_artists: stray,
            artists,
            artist_parts,
            clusters,
            preferences: affinity.embeddings().map(|e| (ctx.listener, Arc::clone(e))),
            seen,
        }
    }
}

impl ListenerFacts for Listener {
    fn recent_item(&self, item: ItemId) -> Option<usize> {
        self.seen
            .may_hold(Seen::ITEM, item.0)
            .then(|| self.recent_items.get(&item).copied())?
    }
    fn recent_artist(&self, artist: ArtistId) -> Option<usize> {
        self.artists[self.artist_place(artist)].0
    }
    fn genre_rank(&self, genre: GenreId) -> Option<usize> {
        self.genre(genre).map(|(rank, _)| rank)
    }
    fn genre_share(&self, genre: GenreId) -> f32 {
        self.genre(genre).map_or(0.0, |(_, share)| share)
    }
    fn artist_share(&self, artist: ArtistId) -> f32 {
        self.artists[self.artist_place(artist)].1
    }
    fn artist_part(&self, artist: ArtistId) -> ArtistPart {
        self.artist_parts[self.artist_place(artist)]
    }
    fn genre_part(&self, genre: GenreId) -> GenrePart {
        self.genre_parts[genre.index().min(self.genre_parts.len() - 1)]
    }
    fn cluster_share(&self, cluster: ClusterId) -> f32 {
        let held = self.seen.may_hold(Seen::CLUSTER, u32::from(cluster.0));
        held.then(|| self.clusters.get(&cluster).copied())
            .flatten()
            .unwrap_or(0.0)
    }
    fn preference(&self, artist: ArtistId) -> f32 {
        self.preferences
            .as_ref()
            .map_or(0.0, |(listener, e)| e.preference(*listener, artist))
    }
}

impl Listener {
    fn genre(&self, genre: GenreId) -> Option<(usize, f32)> {
        self.genres.get(genre.index()).copied().flatten()
    }

    /// The artist's place in `artists`: a clamped index, and no branch that is ever taken
    /// unless the listener knows an artist beyond the table.
    #[inline(always)]
    fn artist_place(&self, artist: ArtistId) -> usize {
        let last = self.artist_at.len() - 1;
        let place = self.artist_at[artist.index().min(last)];
        if place == 0 && !self.stray_artists.is_empty() && artist.index() >= last {
            return self.stray_place(artist);
        }
        place as usize
    }

    /// The place of an artist beyond the table (rare: kept out of the inlined path).
    #[cold]
    #[inline(never)]
    fn stray_place(&self, artist: ArtistId) -> usize {
        self.stray_artists.get(&artist).map_or(0, |&p| p as usize)
    }
}

/// A position in a most-recent-first list, bucketed: 0 first, 1 second or third, 2 further
/// back, 3 absent.
fn recency(position: Option<usize>) -> u64 {
    match position {
        Some(0) => 0,
        Some(1 | 2) => 1,
        Some(_) => 2,
        None => 3,
    }
}

fn bucket(x: f32, edges: &[f32]) -> u64 {
    edges.iter().take_while(|&&e| x >= e).count() as u64
}

/// The part of the relation that a shelf fixes before its items: the explanation's kind, its
/// code for this context, and what of the item completes the code.
#[derive(Clone, Copy, Debug)]
pub struct ShelfRelation {
    /// The kind in bits 8 and up, the shelf's part of the code below.
    relation: u64,
    item: ItemPart,
}

/// What an item adds to its shelf's relation code.
#[derive(Clone, Copy, Debug)]
enum ItemPart {
    Nothing,
    /// 1 if the item is by this artist.
    ByArtist(ArtistId),
    /// 1 if the item's genre is this one.
    InGenre(GenreId),
    /// How recently the listener played the item.
    Recency,
}

impl ShelfRelation {
    /// How `explanation` relates to the listener of `ctx`, as a small code per kind.
    pub fn new(ctx: &Context, facts: &impl ListenerFacts, explanation: &Explanation) -> Self {
        let (code, item) = match *explanation {
            Explanation::BecauseYouListened(a) => {
                (facts.artist_part(a).recency * 2, ItemPart::ByArtist(a))
            }
            Explanation::YourTopGenre(g) => {
                let rank = facts.genre_rank(g).unwrap_or(3).min(3) as u64;
                (rank * 2, ItemPart::InGenre(g))
            }
            Explanation::PopularIn(r) => (u64::from(r == ctx.region), ItemPart::Nothing),
            Explanation::PopularOn(p) => (u64::from(p == ctx.platform), ItemPart::Nothing),
            Explanation::JumpBackIn => (0, ItemPart::Recency),
            Explanation::Discover(g) => (
                bucket(facts.genre_share(g), &[1e-6, 0.05, 0.15]),
                ItemPart::Nothing,
            ),
            Explanation::DiscoverCluster(c) => (
                bucket(facts.cluster_share(c), &[1e-6, 0.05, 0.15]),
                ItemPart::Nothing,
            ),
        };
        ShelfRelation {
            relation: ((explanation.kind() as u64) << 8) | code,
            item,
        }
    }

    /// Every relation of an item on one shelf has a [`slot`](Self::slot) below this.
    pub const SLOTS: usize = 1 << 12;

    /// A small number that tells apart the discrete keys of this shelf's relations: equal
    /// slots, equal keys. `r` must be the relation of an item on this shelf.
    pub fn slot(&self, r: &Relation) -> usize {
        // The item's own part (at most 3), familiar (at most 15) and the two buckets (at most
        // 4 each).
        let own = r.relation - self.relation;
        (own << 10 | r.familiar << 6 | r.genre_affinity << 3 | r.artist_affinity) as usize
    }

    /// The relation of `item` on this shelf.
    #[inline(always)]
    pub fn of(&self, facts: &impl ListenerFacts, item: ItemFacts) -> Relation {
        let genre = facts.genre_part(item.genre);
        let artist = facts.artist_part(item.artist);
        let recent_item = recency(facts.recent_item(item.id));
        let own = match self.item {
            ItemPart::Nothing => 0,
            ItemPart::ByArtist(a) => u64::from(item.artist == a),
            ItemPart::InGenre(g) => u64::from(item.genre == g),
            ItemPart::Recency => recent_item,
        };
        Relation {
            relation: self.relation + own,
            familiar: recent_item * 4 + artist.recency,
            genre_affinity: genre.affinity,
            artist_affinity: artist.affinity,
            genre_share: genre.share,
            artist_share: artist.share,
            preference: facts.preference(item.artist),
        }
    }
}

/// The item, explanation, relation and position namespaces of one card.
pub fn card_features(
    ctx: &Context,
    affinity: &Affinity,
    item: &Item,
    explanation: &Explanation,
    slot: Slot,
    out: &mut impl FeatureSink,
) {
    item_features(item, out);
    explanation_features(explanation, out);
    relation_features(ctx, affinity, item, explanation, out);
    position_features(slot, out);
}

/// The item namespace: the same in every context.
pub fn item_features(item: &Item, out: &mut impl FeatureSink) {
    out.namespace("i");
    out.add("item", u64::from(item.id.0));
    out.add("artist", u64::from(item.artist.0));
    out.add("genre", u64::from(item.genre().0));
    out.add("kind", item.kind as u64);
    out.add("popularity", (item.popularity * 10.0) as u64);
    out.add("release", u64::from(item.release_day / 1826));
}

/// The explanation namespace: the same for every card of a shelf.
pub fn explanation_features(explanation: &Explanation, out: &mut impl FeatureSink) {
    let kind = explanation.kind() as u64;
    out.namespace("e");
    out.add("kind", kind);
    out.add("instance", (kind << 32) | u64::from(explanation.arg()));
}

/// The relation namespace: how item and explanation relate to this listener.
pub fn relation_features(
    ctx: &Context,
    affinity: &Affinity,
    item: &Item,
    explanation: &Explanation,
    out: &mut impl FeatureSink,
) {
    let r = Relation::of(ctx, affinity, item, explanation);
    out.namespace(Relation::NAMESPACE);
    r.write_discrete(out);
    r.write_real(out);
}

/// What the relation namespace needs of an item: small enough to keep a table of for the
/// whole catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemFacts {
    pub id: ItemId,
    pub artist: ArtistId,
    pub genre: GenreId,
}

impl From<&Item> for ItemFacts {
    fn from(item: &Item) -> Self {
        ItemFacts {
            id: item.id,
            artist: item.artist,
            genre: item.genre(),
        }
    }
}

/// The values of the relation namespace: four small codes and three real values, the
/// listener's shares of plays of the item's genre and artist and their predicted preference
/// for its artist (the dot product of their embeddings; 0 without embeddings).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Relation {
    relation: u64,
    familiar: u64,
    genre_affinity: u64,
    artist_affinity: u64,
    genre_share: f32,
    artist_share: f32,
    preference: f32,
}

impl Relation {
    /// The namespace the features belong to.
    pub const NAMESPACE: &'static str = "r";
    /// The number of real-valued features.
    pub const REALS: usize = 3;

    /// The relation of `item` under `explanation` to the listener of `ctx`.
    pub fn of(ctx: &Context, affinity: &Affinity, item: &Item, explanation: &Explanation) -> Self {
        Relation::with(ctx, &Scan { ctx, affinity }, item.into(), explanation)
    }

    /// The same from the listener's `facts` (indexed once per page by a caller that scores
    /// many items).
    pub fn with(
        ctx: &Context,
        facts: &impl ListenerFacts,
        item: ItemFacts,
        explanation: &Explanation,
    ) -> Self {
        ShelfRelation::new(ctx, facts, explanation).of(facts, item)
    }

    /// The four codes packed in one key: equal keys, equal discrete features.
    pub fn discrete_key(&self) -> u64 {
        (self.relation << 24)
            | (self.familiar << 16)
            | (self.genre_affinity << 8)
            | self.artist_affinity
    }

    /// The discrete features (into the current namespace).
    pub fn write_discrete(&self, out: &mut impl FeatureSink) {
        out.add("relation", self.relation);
        out.add("familiar", self.familiar);
        out.add("genre_affinity", self.genre_affinity);
        out.add("artist_affinity", self.artist_affinity);
    }

    /// The values of the real-valued features, in the order [`write_real`](Self::write_real)
    /// writes them.
    pub fn reals(&self) -> [f32; Self::REALS] {
        [self.genre_share, self.artist_share, self.preference]
    }

    /// The real-valued features (into the current namespace).
    pub fn write_real(&self, out: &mut impl FeatureSink) {
        out.real("genre_share", self.genre_share);
        out.real("artist_share", self.artist_share);
        out.real("preference", self.preference);
    }
}

/// The position namespace.
pub fn position_features(slot: Slot, out: &mut impl FeatureSink) {
    out.namespace("p");
    out.add("row", u64::from(slot.row));
    out.add("column", u64::from(slot.column));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::Features;
    use bart_core::{AgeGroup, ListenerId, Platform, RegionId};

    /// A weekday 9 h context of listener 0 without recent listening.
    pub(crate) fn bare_context(region: RegionId, platform: Platform) -> Context {
        Context {
            listener: ListenerId(0),
            region,
            platform,
            age_group: AgeGroup::Under25,
            hour: 9,
            weekday: 1,
            recent_artists: Vec::new(),
            recent_genres: Vec::new(),
            recent_items: Vec::new(),
        }
    }

    #[test]
    fn listener_tables_answer_as_a_scan_for_any_artist_id() {
        // Recent artists around and beyond the dense table, repeated (the first place
        // counts), and ids just past the largest known one.
        let mut ctx = bare_context(RegionId(0), Platform::Mobile);
        let far = DENSE_ARTISTS as u32;
        ctx.recent_artists = [3, far + 5, 3, far - 1, 1 << 30, 7].map(ArtistId).to_vec();
        let affinity = Affinity::default();
        let (listener, scan) = (
            Listener::new(&ctx, &affinity),
            Scan {
                ctx: &ctx,
                affinity: &affinity,
            },
        );
        let ids = [
            0,
            3,
            4,
            7,
            8,
            far - 2,
            far - 1,
            far,
            far + 5,
            far + 6,
            1 << 30,
            u32::MAX,
        ];
        for a in ids.map(ArtistId) {
            assert_eq!(listener.recent_artist(a), scan.recent_artist(a), "{a:?}");
            assert_eq!(listener.artist_part(a), scan.artist_part(a), "{a:?}");
        }
        assert_eq!(listener.recent_artist(ArtistId(far + 5)), Some(1));
        assert_eq!(listener.recent_artist(ArtistId(far - 1)), Some(3));
        // A listener without stray ids has an empty side table, so its lookups never branch.
        ctx.recent_artists = vec![ArtistId(3)];
        assert!(Listener::new(&ctx, &affinity).stray_artists.is_empty());
    }

    #[test]
    fn text_and_hashed_features_agree() {
        let mut text = String::new();
        let mut hashed = Features::default();
        let sinks: [&mut dyn FeatureSink; 2] =
            [&mut VwText(&mut text), &mut Hashing::new(&mut hashed)];
        for sink in sinks {
            sink.namespace("c");
            sink.add("region", 3);
            sink.real("share", 0.25);
            sink.namespace("i");
            sink.add("item", 12);
        }
        assert_eq!(text, "|c region=3 share:0.25 |i item=12");
        let (c, i) = (Namespace::new(b"c"), Namespace::new(b"i"));
        assert_eq!(
            hashed.example().atoms().collect::<Vec<_>>(),
            vec![
                (c.id(b"region=3"), 1.0),
                (c.id(b"share"), 0.25),
                (i.id(b"item=12"), 1.0)
            ]
        );
    }

    #[test]
    fn popular_on_has_its_own_kind_instance_and_relation() {
        use bart_core::{Platform, RegionId};
        let ctx = bare_context(RegionId(2), Platform::Desktop);
        let item = Item {
            id: ItemId(7),
            kind: bart_core::ItemKind::Track,
            title: "t".into(),
            artist: ArtistId(1),
            genres: vec![GenreId(0)],
            popularity: 0.5,
            release_day: 0,
        };
        let affinity = Affinity::default();
        let text = |e: Explanation| {
            let mut out = String::new();
            explanation_features(&e, &mut VwText(&mut out));
            relation_features(&ctx, &affinity, &item, &e, &mut VwText(&mut out));
            out
        };
        // Kind 5 (appended after discover), the platform's number as the instance's argument,
        // and relation 1 exactly when the shelf names the context's platform.
        let kind = 5u64 << 32;
        assert_eq!(
            text(Explanation::PopularOn(Platform::Desktop)),
            format!(
                "|e kind=5 instance={} |r relation={} familiar=15 genre_affinity=0 \
                 artist_affinity=0 genre_share:0 artist_share:0 preference:0",
                kind | 1,
                (5 << 8) | 1
            )
        );
        assert_eq!(
            text(Explanation::PopularOn(Platform::Speaker)),
            format!(
                "|e kind=5 instance={} |r relation={} familiar=15 genre_affinity=0 \
                 artist_affinity=0 genre_share:0 artist_share:0 preference:0",
                kind | 3,
                5 << 8
            )
        );
        // Unchanged for the kinds before it.
        assert!(
            text(Explanation::PopularIn(RegionId(2))).starts_with(&format!(
                "|e kind=2 instance={} |r relation={} ",
                (2u64 << 32) | 2,
                (2 << 8) | 1
            ))
        );
    }
}
