//! Name tables and generators for the synthetic world: genres, regions, artists and titles.

use rand::{Rng, RngExt};

/// When in the day a genre is listened to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mood {
    /// Quiet music: mornings.
    Calm,
    /// Background music for working: afternoons.
    Focus,
    /// Hard-hitting music: late nights.
    Night,
    /// Dance music: evenings and nights.
    Party,
    /// Smooth music: evenings.
    Evening,
    /// Daytime and driving music.
    Day,
    /// No daily pattern.
    Neutral,
}

impl Mood {
    /// Log-preference offsets for [night, morning, afternoon, evening].
    pub(crate) fn daypart_profile(self) -> [f64; 4] {
        match self {
            Mood::Calm => [-0.3, 1.0, 0.2, -0.4],
            Mood::Focus => [-0.3, 0.2, 0.9, -0.5],
            Mood::Night => [1.0, -0.9, -0.3, 0.4],
            Mood::Party => [0.6, -0.8, -0.4, 0.9],
            Mood::Evening => [0.1, -0.4, -0.2, 0.7],
            Mood::Day => [-0.5, 0.3, 0.6, -0.1],
            Mood::Neutral => [0.0, 0.0, 0.0, 0.0],
        }
    }
}

/// Genre names, most widely listened first, with their daily mood.
pub(crate) const GENRES: [(&str, Mood); 40] = [
    ("pop", Mood::Neutral),
    ("rock", Mood::Day),
    ("hip hop", Mood::Night),
    ("indie", Mood::Day),
    ("electronic", Mood::Focus),
    ("r&b", Mood::Evening),
    ("jazz", Mood::Evening),
    ("classical", Mood::Calm),
    ("country", Mood::Day),
    ("metal", Mood::Night),
    ("folk", Mood::Calm),
    ("soul", Mood::Evening),
    ("reggaeton", Mood::Party),
    ("k-pop", Mood::Neutral),
    ("latin", Mood::Party),
    ("afrobeat", Mood::Party),
    ("techno", Mood::Night),
    ("house", Mood::Party),
    ("ambient", Mood::Calm),
    ("blues", Mood::Evening),
    ("punk", Mood::Day),
    ("funk", Mood::Party),
    ("reggae", Mood::Neutral),
    ("disco", Mood::Party),
    ("lo-fi", Mood::Focus),
    ("j-pop", Mood::Neutral),
    ("bossa nova", Mood::Calm),
    ("samba", Mood::Party),
    ("sertanejo", Mood::Day),
    ("drum and bass", Mood::Night),
    ("singer-songwriter", Mood::Calm),
    ("gospel", Mood::Calm),
    ("trap", Mood::Night),
    ("synthwave", Mood::Focus),
    ("flamenco", Mood::Evening),
    ("cumbia", Mood::Party),
    ("amapiano", Mood::Party),
    ("bollywood", Mood::Neutral),
    ("grime", Mood::Night),
    ("shoegaze", Mood::Focus),
];

/// A region: name, UTC offset in hours, favourite genres (strongest first).
pub(crate) struct RegionSpec {
    pub name: &'static str,
    pub utc_offset: i32,
    pub genres: &'static [&'static str],
}

const fn region(
    name: &'static str,
    utc_offset: i32,
    genres: &'static [&'static str],
) -> RegionSpec {
    RegionSpec {
        name,
        utc_offset,
        genres,
    }
}

/// Region names, largest market first.
pub(crate) const REGIONS: [RegionSpec; 26] = [
    region(
        "United States",
        -5,
        &["hip hop", "pop", "country", "r&b", "trap"],
    ),
    region("Brazil", -3, &["sertanejo", "samba", "funk", "bossa nova"]),
    region(
        "United Kingdom",
        0,
        &["indie", "grime", "rock", "drum and bass"],
    ),
    region("Germany", 1, &["techno", "electronic", "rock", "metal"]),
    region("Japan", 9, &["j-pop", "jazz", "rock", "classical"]),
    region("Mexico", -6, &["latin", "reggaeton", "cumbia", "pop"]),
    region("India", 5, &["bollywood", "pop", "classical", "hip hop"]),
    region("France", 1, &["hip hop", "electronic", "house", "pop"]),
    region("South Korea", 9, &["k-pop", "r&b", "hip hop", "indie"]),
    region("Nigeria", 1, &["afrobeat", "gospel", "hip hop", "r&b"]),
    region("Spain", 1, &["flamenco", "reggaeton", "latin", "pop"]),
    region("Canada", -5, &["pop", "indie", "hip hop", "country"]),
    region("Italy", 1, &["pop", "classical", "house", "rock"]),
    region("Sweden", 1, &["pop", "metal", "electronic", "indie"]),
    region("Australia", 10, &["indie", "rock", "pop", "electronic"]),
    region("Argentina", -3, &["latin", "rock", "cumbia", "reggaeton"]),
    region("Colombia", -5, &["reggaeton", "cumbia", "latin", "pop"]),
    region(
        "South Africa",
        2,
        &["amapiano", "house", "gospel", "afrobeat"],
    ),
    region("Indonesia", 7, &["pop", "k-pop", "indie", "rock"]),
    region("Netherlands", 1, &["house", "techno", "electronic", "pop"]),
    region("Poland", 1, &["hip hop", "metal", "rock", "electronic"]),
    region("Turkey", 3, &["pop", "rock", "hip hop", "folk"]),
    region(
        "Philippines",
        8,
        &["pop", "k-pop", "r&b", "singer-songwriter"],
    ),
    region("Norway", 1, &["metal", "pop", "electronic", "indie"]),
    region("Jamaica", -5, &["reggae", "soul", "hip hop", "funk"]),
    region("Chile", -4, &["latin", "rock", "cumbia", "folk"]),
];

const ONSETS: [&str; 26] = [
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr",
    "st", "sh", "ch", "j", "y", "th", "fl", "gr",
];
const VOWELS: [&str; 12] = [
    "a", "e", "i", "o", "u", "a", "e", "o", "i", "ai", "ei", "ou",
];
const CODAS: [&str; 10] = ["", "", "", "n", "r", "l", "s", "x", "m", "th"];

const FIRST_NAMES: [&str; 40] = [
    "Mira", "Jonas", "Aiko", "Leo", "Nia", "Omar", "Sofia", "Kai", "Lena", "Mateo", "Yuki", "Ada",
    "Felix", "Zara", "Ivo", "Noor", "Elsa", "Tomas", "Ines", "Ravi", "Maya", "Otis", "June",
    "Caleb", "Asha", "Bruno", "Lila", "Hugo", "Amara", "Theo", "Rosa", "Emeka", "Freya", "Dario",
    "Hana", "Joel", "Luz", "Soren", "Tess", "Ayo",
];

const ADJECTIVES: [&str; 48] = [
    "Golden", "Midnight", "Electric", "Silent", "Broken", "Velvet", "Neon", "Wild", "Paper",
    "Distant", "Blue", "Crimson", "Hollow", "Summer", "Lonely", "Secret", "Burning", "Frozen",
    "Gentle", "Restless", "Silver", "Faded", "Endless", "Quiet", "Northern", "Sweet", "Bitter",
    "Lucky", "Fragile", "Heavy", "Little", "Open", "Violet", "Early", "Last", "Young", "Lost",
    "Bright", "Dark", "Slow", "Strange", "Honey", "Glass", "Stone", "Amber", "Cosmic", "Rainy",
    "Sunday",
];

const NOUNS: [&str; 48] = [
    "Hearts",
    "Roads",
    "Lights",
    "Dreams",
    "Rivers",
    "Machines",
    "Echoes",
    "Skies",
    "Letters",
    "Fire",
    "Gardens",
    "Waves",
    "Mornings",
    "Cities",
    "Shadows",
    "Horses",
    "Mirrors",
    "Stars",
    "Wolves",
    "Bridges",
    "Oceans",
    "Signals",
    "Flowers",
    "Ghosts",
    "Windows",
    "Tides",
    "Youth",
    "Satellites",
    "Lanterns",
    "Heat",
    "Harbors",
    "Streets",
    "Voices",
    "Islands",
    "Storms",
    "Diamonds",
    "Tigers",
    "Clouds",
    "Seasons",
    "Radios",
    "Angels",
    "Mountains",
    "Forests",
    "Highways",
    "Sparks",
    "Moons",
    "Colors",
    "Fever",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A pronounceable made-up word of 1 to 3 syllables, capitalized.
fn word<R: Rng + ?Sized>(rng: &mut R) -> String {
    let syllables = match rng.random_range(0..20) {
        0..3 => 1,
        3..17 => 2,
        _ => 3,
    };
    let mut w = String::new();
    for s in 0..syllables {
        if s > 0 || rng.random_bool(0.85) {
            w.push_str(pick(rng, &ONSETS));
        }
        w.push_str(pick(rng, &VOWELS));
        if s + 1 == syllables || rng.random_bool(0.2) {
            w.push_str(pick(rng, &CODAS));
        }
    }
    capitalize(&w)
}

/// A display form of a genre name: "hip hop" -> "Hip Hop", "r&b" -> "R&B", "k-pop" -> "K-Pop".
pub(crate) fn genre_title(genre: &str) -> String {
    if genre.contains('&') {
        return genre.to_uppercase();
    }
    genre
        .split(' ')
        .map(|w| w.split('-').map(capitalize).collect::<Vec<_>>().join("-"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An artist name; `urban` artists (hip hop, electronic, ...) sometimes get a DJ/MC/Lil prefix.
pub(crate) fn artist_name<R: Rng + ?Sized>(rng: &mut R, urban: bool) -> String {
    let r = rng.random_range(0..100);
    if urban && r < 25 {
        let prefix = pick(rng, &["DJ", "MC", "Lil", "Young"]);
        return format!("{prefix} {}", word(rng));
    }
    match r {
        0..30 => format!("{} {}", pick(rng, &FIRST_NAMES), word(rng)),
        30..55 => word(rng),
        55..70 => format!("The {} {}", pick(rng, &ADJECTIVES), pick(rng, &NOUNS)),
        70..80 => format!("{} & the {}", word(rng), pick(rng, &NOUNS)),
        80..90 => format!("{} {}", pick(rng, &ADJECTIVES), pick(rng, &NOUNS)),
        _ => format!("{} {}", word(rng), word(rng)),
    }
}

/// A track or album title: "<Adjective> <Noun>" and a few variations.
pub(crate) fn title<R: Rng + ?Sized>(rng: &mut R) -> String {
    match rng.random_range(0..10) {
        0..6 => format!("{} {}", pick(rng, &ADJECTIVES), pick(rng, &NOUNS)),
        6..8 => format!("{} of {}", pick(rng, &NOUNS), pick(rng, &NOUNS)),
        8 => format!("{} {}", pick(rng, &ADJECTIVES), word(rng)),
        _ => pick(rng, &NOUNS).to_string(),
    }
}

/// A playlist title about a genre or an artist.
pub(crate) fn playlist_title<R: Rng + ?Sized>(rng: &mut R, genre: &str, artist: &str) -> String {
    let g = genre_title(genre);
    match rng.random_range(0..8) {
        0 => format!("{g} Essentials"),
        1 => format!("Chill {g}"),
        2 => format!("{g} Classics"),
        3 => format!("Fresh {g}"),
        4 => format!("Late Night {g}"),
        5 => format!("{g} Workout"),
        6 => format!("{g} Mix"),
        _ => format!("This Is {artist}"),
    }
}
