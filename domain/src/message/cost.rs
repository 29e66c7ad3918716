//! What a message costs: its encoding (GSM 03.38 7-bit, or UCS-2 when any character is
//! outside GSM's tables) and how many SMS segments carry it. Operators bill per segment.

/// GSM 03.38's basic character set (one septet each; ESC excluded).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38's extension table (an escape plus one septet each).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gsm7 => "GSM-7",
            Self::Ucs2 => "UCS-2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCost {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: u32,
}

impl MessageCost {
    pub fn of(text: &str) -> Self {
        let septets: Option<Vec<usize>> = text
            .chars()
            .map(|c| {
                if GSM_BASIC.contains(c) {
                    Some(1)
                } else if GSM_EXTENDED.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .collect();
        match septets {
            Some(widths) => Self::packed(Encoding::Gsm7, &widths, 160, 153),
            None => {
                let widths: Vec<usize> = text.chars().map(char::len_utf16).collect();
                Self::packed(Encoding::Ucs2, &widths, 70, 67)
            }
        }
    }

    /// Fits in one segment of `single` units, or else in segments of `part` units (the rest
    /// is the concatenation header); a character's units never straddle two segments.
    fn packed(encoding: Encoding, widths: &[usize], single: usize, part: usize) -> Self {
        let units: usize = widths.iter().sum();
        let segments = if units <= single {
            1
        } else {
            let (mut segments, mut used) = (1, 0);
            for &width in widths {
                if used + width > part {
                    segments += 1;
                    used = 0;
                }
                used += width;
            }
            segments
        };
        Self {
            encoding,
            units,
            segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_text_fits_160_septets_then_153_per_segment() {
        assert_eq!(
            MessageCost::of(&"a".repeat(160)),
            MessageCost {
                encoding: Encoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(MessageCost::of(&"a".repeat(161)).segments, 2);
        assert_eq!(MessageCost::of(&"a".repeat(306)).segments, 2);
        assert_eq!(MessageCost::of(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_take_two_septets_and_never_straddle() {
        assert_eq!(MessageCost::of("€").units, 2);
        assert_eq!(MessageCost::of(&"€".repeat(80)).segments, 1);
        // 152 septets, then a two-septet character: it opens the second segment.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(MessageCost::of(&text).segments, 2);
    }

    #[test]
    fn any_other_character_makes_it_ucs2() {
        let german = "Ihr Bestätigungscode lautet 123456. Geben Sie ihn niemals weiter.";
        assert_eq!(MessageCost::of(german).encoding, Encoding::Gsm7);
        let polish = "Twój kod to 123456";
        let cost = MessageCost::of(polish);
        assert_eq!((cost.encoding, cost.segments), (Encoding::Ucs2, 1));
        assert_eq!(MessageCost::of(&"ó".repeat(70)).segments, 1);
        assert_eq!(MessageCost::of(&"ó".repeat(71)).segments, 2);
        assert_eq!(MessageCost::of(&"😀".repeat(34)).units, 68);
    }
}
