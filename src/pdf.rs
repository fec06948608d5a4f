//! A printable document of lines, for certified results and the like: portrait pages of the
//! department's paper, the standard Helvetica fonts (nothing embedded), headings, lines wrapped
//! to the page, three-column rows, and a new page when one is full.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

const MARGIN: f32 = 50.0;

enum Piece {
    Text { bold: bool, size: f32, text: String },
    Row(Vec<String>),
    Gap,
}

/// A document being written; `finish` lays it out and returns the PDF's bytes.
pub struct Document {
    width: f32,
    height: f32,
    pieces: Vec<Piece>,
}

/// Text for the standard fonts (Windows-1252): Latin-1 as it is, a few typographic marks, and
/// anything else as '?'.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2013 => 0x96,
            0x2014 => 0x97,
            0x2018 => 0x91,
            0x2019 => 0x92,
            0x201c => 0x93,
            0x201d => 0x94,
            0x2022 => 0x95,
            _ => b'?',
        })
        .collect()
}

/// Splits `text` into lines of at most `chars` characters, at spaces where it can.
fn wrap(text: &str, chars: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let fits = line.chars().count() + word.chars().count() < chars;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > chars {
            let head: String = line.chars().take(chars).collect();
            line = line.chars().skip(chars).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

impl Document {
    /// A document on paper of `(width, height)` points, portrait.
    pub fn new((width, height): (f32, f32)) -> Document {
        Document {
            width,
            height,
            pieces: Vec::new(),
        }
    }

    fn text(&mut self, bold: bool, size: f32, text: &str) {
        self.pieces.push(Piece::Text {
            bold,
            size,
            text: text.to_string(),
        });
    }

    pub fn heading(&mut self, text: &str) {
        self.text(true, 15.0, text);
    }

    pub fn subheading(&mut self, text: &str) {
        self.text(true, 11.0, text);
    }

    pub fn line(&mut self, text: &str) {
        self.text(false, 10.0, text);
    }

    pub fn small(&mut self, text: &str) {
        self.text(false, 8.0, text);
    }

    /// A row of a table: a wide first column, then figures.
    pub fn row(&mut self, cells: &[&str]) {
        self.pieces
            .push(Piece::Row(cells.iter().map(|c| c.to_string()).collect()));
    }

    pub fn gap(&mut self) {
        self.pieces.push(Piece::Gap);
    }

    /// Lays the pieces out on as many pages as they need.
    pub fn finish(self) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let regular = Name(b"F1");
        let bold = Name(b"F2");
        let mut pages: Vec<Content> = vec![Content::new()];
        let mut y = h - MARGIN;
        let put = |c: &mut Content, f: Name, size: f32, x: f32, y: f32, s: &str| {
            c.begin_text();
            c.set_font(f, size);
            c.next_line(x, y);
            c.show(Str(&win_ansi(s)));
            c.end_text();
        };
        let room = |need: f32, y: &mut f32, pages: &mut Vec<Content>| {
            if *y - need < MARGIN {
                pages.push(Content::new());
                *y = h - MARGIN;
            }
        };
        for piece in &self.pieces {
            match piece {
                Piece::Text {
                    bold: b,
                    size,
                    text,
                } => {
                    // Helvetica averages about half its size per character.
                    let chars = ((w - 2.0 * MARGIN) / (size * 0.5)).floor() as usize;
                    for l in wrap(text, chars.max(20)) {
                        room(size * 1.4, &mut y, &mut pages);
                        y -= size * 1.4;
                        let page = pages.last_mut().expect("a page");
                        put(page, if *b { bold } else { regular }, *size, MARGIN, y, &l);
                    }
                }
                Piece::Row(cells) => {
                    room(14.0, &mut y, &mut pages);
                    y -= 14.0;
                    let page = pages.last_mut().expect("a page");
                    let first = (w - 2.0 * MARGIN) * 0.6;
                    let rest =
                        (w - 2.0 * MARGIN - first) / cells.len().saturating_sub(1).max(1) as f32;
                    for (i, cell) in cells.iter().enumerate() {
                        let x = if i == 0 {
                            MARGIN + 10.0
                        } else {
                            MARGIN + first + rest * (i - 1) as f32
                        };
                        let max = if i == 0 { 60 } else { 14 };
                        let text: String = cell.chars().take(max).collect();
                        put(page, regular, 10.0, x, y, &text);
                    }
                }
                Piece::Gap => y -= 8.0,
            }
        }
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let font_id = Ref::new(3);
        let bold_id = Ref::new(4);
        let mut next = 5;
        let mut page_ids = Vec::new();
        for content in pages {
            let page_id = Ref::new(next);
            let content_id = Ref::new(next + 1);
            next += 2;
            page_ids.push(page_id);
            pdf.stream(content_id, &content.finish());
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, w, h));
            page.parent(tree);
            page.contents(content_id);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(regular, font_id);
            fonts.pair(bold, bold_id);
        }
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(page_ids.len() as i32);
        pdf.type1_font(font_id)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold_id)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_and_long_documents_get_pages() {
        assert_eq!(wrap("one two three", 8), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(win_ansi("“Zoë” – 5"), b"\x93Zo\xeb\x94 \x96 5");
        let mut d = Document::new((595.0, 842.0));
        for i in 0..200 {
            d.line(&format!("line {i}"));
        }
        let bytes = d.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 4"), "{}", text.len());
    }
}
