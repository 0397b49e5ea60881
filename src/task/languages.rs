//! The 52 evaluation languages of the paper: the union of XGLM's 30 and BLOOM's 38 pre-training
//! languages, with FLORES-200 codes as SIB-200 names its folders, and each model's share of pre-training
//! data (`None`: not a pre-training language of that model). Chinese is `zho_Hans` (the source says "zho").
use crate::model::Family;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Language {
    /// FLORES-200 code, e.g. `swh_Latn`.
    pub code: &'static str,
    pub name: &'static str,
    /// Language family as the paper groups it, e.g. "Niger-Congo, Bantu".
    pub family: &'static str,
    pub script: &'static str,
    pub xglm_share: Option<f64>,
    pub bloom_share: Option<f64>,
}

impl Language {
    /// Fraction of `model`'s pre-training data in this language, if it was a pre-training language.
    pub fn share(&self, model: Family) -> Option<f64> {
        match model {
            Family::Xglm => self.xglm_share,
            Family::Bloom => self.bloom_share,
        }
    }

    /// The top level of the family ("Indo-European" for "Indo-European, Slavic").
    pub fn family_root(&self) -> &'static str {
        family_root(self.family)
    }
}

/// The top level of a family as the paper writes it ("Indo-European" for "Indo-European, Slavic").
pub fn family_root(family: &str) -> &str {
    family.split(',').next().unwrap_or(family).trim()
}

const fn lang(
    code: &'static str,
    name: &'static str,
    family: &'static str,
    script: &'static str,
    xglm_share: Option<f64>,
    bloom_share: Option<f64>,
) -> Language {
    Language { code, name, family, script, xglm_share, bloom_share }
}

/// In the paper's order (XGLM's languages by share, then BLOOM's others).
pub const LANGUAGES: [Language; 52] = [
    lang("eng_Latn", "English", "Indo-European, Germanic", "Latin", Some(0.4899), Some(0.303)),
    lang("rus_Cyrl", "Russian", "Indo-European, Slavic", "Cyrillic", Some(0.0901), None),
    lang("zho_Hans", "Chinese", "Sino-Tibetan", "Han", Some(0.0809), Some(0.177)),
    lang("deu_Latn", "German", "Indo-European, Germanic", "Latin", Some(0.0544), None),
    lang("spa_Latn", "Spanish", "Indo-European, Romance", "Latin", Some(0.0532), Some(0.107)),
    lang("fra_Latn", "French", "Indo-European, Romance", "Latin", Some(0.0472), Some(0.131)),
    lang("jpn_Jpan", "Japanese", "Japonic", "Japanese", Some(0.0403), None),
    lang("ita_Latn", "Italian", "Indo-European, Romance", "Latin", Some(0.0256), None),
    lang("por_Latn", "Portuguese", "Indo-European, Romance", "Latin", Some(0.0223), Some(0.05)),
    lang("ell_Grek", "Greek", "Indo-European, Hellenic", "Greek", Some(0.0175), None),
    lang("kor_Hang", "Korean", "Koreanic", "Hangul", Some(0.0122), None),
    lang("fin_Latn", "Finnish", "Uralic", "Latin", Some(0.0102), None),
    lang("ind_Latn", "Indonesian", "Austronesian", "Latin", Some(0.0094), Some(0.011)),
    lang("tur_Latn", "Turkish", "Turkic", "Latin", Some(0.0076), None),
    lang("arb_Arab", "Arabic", "Afro-Asiatic, Semitic", "Arabic", Some(0.0075), Some(0.033)),
    lang("vie_Latn", "Vietnamese", "Austroasiatic", "Latin", Some(0.0068), Some(0.025)),
    lang("tha_Thai", "Thai", "Kra-Dai", "Thai", Some(0.0066), None),
    lang("bul_Cyrl", "Bulgarian", "Indo-European, Slavic", "Cyrillic", Some(0.0059), None),
    lang("cat_Latn", "Catalan", "Indo-European, Romance", "Latin", Some(0.0043), Some(0.011)),
    lang("hin_Deva", "Hindi", "Indo-European, Indo-Aryan", "Devanagari", Some(0.0021), Some(0.007)),
    lang("est_Latn", "Estonian", "Uralic", "Latin", Some(0.0020), None),
    lang("ben_Beng", "Bengali", "Indo-European, Indo-Aryan", "Bengali", Some(0.00099), Some(0.005)),
    lang("tam_Taml", "Tamil", "Dravidian", "Tamil", Some(0.00090), Some(0.002)),
    lang("urd_Arab", "Urdu", "Indo-European, Indo-Aryan", "Arabic", Some(0.00082), Some(0.001)),
    lang("swh_Latn", "Swahili", "Niger-Congo, Bantu", "Latin", Some(0.00055), Some(0.0002)),
    lang("tel_Telu", "Telugu", "Dravidian", "Telugu", Some(0.00042), Some(0.0009)),
    lang("eus_Latn", "Basque", "isolate", "Latin", Some(0.000064), Some(0.002)),
    lang("mya_Mymr", "Burmese", "Sino-Tibetan", "Myanmar", Some(0.000062), None),
    lang("hat_Latn", "Haitian Creole", "French creole", "Latin", Some(0.000053), None),
    lang("quy_Latn", "Ayacucho Quechua", "Quechuan", "Latin", Some(0.000002), None),
    lang("aka_Latn", "Akan", "Niger-Congo, Kwa", "Latin", None, Some(7e-7)),
    lang("asm_Beng", "Assamese", "Indo-European, Indo-Aryan", "Bengali", None, Some(1e-4)),
    lang("bam_Latn", "Bambara", "Niger-Congo, Mande", "Latin", None, Some(4e-7)),
    lang("sna_Latn", "Shona", "Niger-Congo, Bantu", "Latin", None, Some(1e-5)),
    lang("tum_Latn", "Tumbuka", "Niger-Congo, Bantu", "Latin", None, Some(2e-7)),
    lang("fon_Latn", "Fon", "Niger-Congo, Kwa", "Latin", None, Some(2e-6)),
    lang("guj_Gujr", "Gujarati", "Indo-European, Indo-Aryan", "Gujarati", None, Some(4e-4)),
    lang("ibo_Latn", "Igbo", "Niger-Congo, Igboid", "Latin", None, Some(1e-5)),
    lang("zul_Latn", "Zulu", "Niger-Congo, Bantu", "Latin", None, Some(1e-5)),
    lang("kan_Knda", "Kannada", "Dravidian", "Kannada", None, Some(6e-4)),
    lang("kik_Latn", "Kikuyu", "Niger-Congo, Bantu", "Latin", None, Some(4e-7)),
    lang("kin_Latn", "Kinyarwanda", "Niger-Congo, Bantu", "Latin", None, Some(3e-5)),
    lang("lin_Latn", "Lingala", "Niger-Congo, Bantu", "Latin", None, Some(2e-6)),
    lang("mal_Mlym", "Malayalam", "Dravidian", "Malayalam", None, Some(0.001)),
    lang("mar_Deva", "Marathi", "Indo-European, Indo-Aryan", "Devanagari", None, Some(5e-4)),
    lang("npi_Deva", "Nepali", "Indo-European, Indo-Aryan", "Devanagari", None, Some(7e-4)),
    lang("nso_Latn", "Northern Sotho", "Niger-Congo, Bantu", "Latin", None, Some(2e-6)),
    lang("ory_Orya", "Odia", "Indo-European, Indo-Aryan", "Odia", None, Some(4e-4)),
    lang("twi_Latn", "Twi", "Niger-Congo, Kwa", "Latin", None, Some(1e-6)),
    lang("wol_Latn", "Wolof", "Niger-Congo, Atlantic", "Latin", None, Some(4e-6)),
    lang("xho_Latn", "Xhosa", "Niger-Congo, Bantu", "Latin", None, Some(1e-5)),
    lang("yor_Latn", "Yoruba", "Niger-Congo, Volta-Niger", "Latin", None, Some(6e-5)),
];

pub const ENGLISH: &str = "eng_Latn";

pub fn by_code(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.code == code)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not one of the 52 evaluation languages (FLORES-200 codes such as swh_Latn; or \"all\")")]
pub struct UnknownLanguage(pub String);

/// The requested languages: "all" (the paper's 52) or codes among them, in the order given.
pub fn select(codes: &[impl AsRef<str>]) -> Result<Vec<Language>, UnknownLanguage> {
    if codes.iter().any(|c| c.as_ref() == "all") {
        return Ok(LANGUAGES.to_vec());
    }
    codes
        .iter()
        .map(|code| by_code(code.as_ref()).copied().ok_or_else(|| UnknownLanguage(code.as_ref().to_string())))
        .collect()
}

/// Languages grouped by `key` (family, script, …), groups in order of first appearance.
pub fn grouped_by(key: impl Fn(&Language) -> &'static str) -> Vec<(&'static str, Vec<&'static Language>)> {
    let mut groups: Vec<(&'static str, Vec<&'static Language>)> = Vec::new();
    for language in &LANGUAGES {
        match groups.iter_mut().find(|(k, _)| *k == key(language)) {
            Some((_, members)) => members.push(language),
            None => groups.push((key(language), vec![language])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    #[test]
    fn select_takes_all_or_known_codes() {
        assert_eq!(select(&["all"]).unwrap().len(), 52);
        let picked: Vec<&str> = select(&["swh_Latn", "eng_Latn"]).unwrap().iter().map(|l| l.code).collect();
        assert_eq!(picked, ["swh_Latn", "eng_Latn"]);
        assert_eq!(select(&["eng_Latn", "xx_Yyyy"]), Err(UnknownLanguage("xx_Yyyy".into())));
    }

    use super::*;

    #[test]
    fn the_papers_52_languages_are_the_union_of_the_two_models() {
        let codes: std::collections::BTreeSet<_> = LANGUAGES.iter().map(|l| l.code).collect();
        assert_eq!(codes.len(), 52, "duplicate codes");
        let xglm = LANGUAGES.iter().filter(|l| l.xglm_share.is_some()).count();
        let bloom = LANGUAGES.iter().filter(|l| l.bloom_share.is_some()).count();
        let both = LANGUAGES.iter().filter(|l| l.xglm_share.is_some() && l.bloom_share.is_some()).count();
        assert_eq!((xglm, bloom, both), (30, 38, 16));
        assert!(LANGUAGES.iter().all(|l| l.xglm_share.is_some() || l.bloom_share.is_some()));
    }

    #[test]
    fn every_language_has_a_sib200_folder() {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/sib200");
        for language in &LANGUAGES {
            let test = std::path::Path::new(data).join(language.code).join("test.tsv");
            assert!(test.is_file(), "{} has no {}", language.name, test.display());
        }
    }

    #[test]
    fn lookups_and_groups() {
        let swahili = by_code("swh_Latn").unwrap();
        assert_eq!((swahili.name, swahili.family_root()), ("Swahili", "Niger-Congo"));
        assert_eq!(swahili.share(Family::Bloom), Some(0.0002));
        assert_eq!(by_code("deu_Latn").unwrap().share(Family::Bloom), None);
        assert!(by_code("xxx_Latn").is_none());
        let by_script = grouped_by(|l| l.script);
        assert_eq!(by_script[0].0, "Latin");
        assert_eq!(by_script.iter().map(|(_, m)| m.len()).sum::<usize>(), 52);
        let devanagari = by_script.iter().find(|(s, _)| *s == "Devanagari").unwrap();
        assert_eq!(devanagari.1.iter().map(|l| l.code).collect::<Vec<_>>(), ["hin_Deva", "mar_Deva", "npi_Deva"]);
    }
}
