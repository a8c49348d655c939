//! Item thumbnails: fetched on demand when a row with an image comes into view, decoded and
//! shrunk off the UI thread, kept as textures in a small least-recently-used set.
//!
//! Only http(s) images, at most [`MAX_BYTES`] each, shrunk to fit [`MAX_SIZE`]; a failed image
//! is remembered as failed (the row then uses its full width) and never retried in this run.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;

/// Largest image downloaded.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Thumbnails are shrunk to fit this box (points are pixels at 1x; enough for 2x rows).
pub const MAX_SIZE: [u32; 2] = [400, 250];
/// Textures kept at once (about 400 KB each).
const KEEP: usize = 80;
/// Time allowed for one image.
const TIMEOUT: Duration = Duration::from_secs(15);

/// One image's state.
#[derive(Clone)]
pub enum Thumb {
    /// Being fetched.
    Loading,
    /// On the GPU.
    Ready(egui::TextureHandle),
    /// Not available (unreachable, too big, not an image).
    Failed,
}

impl std::fmt::Debug for Thumb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Loading => f.write_str("Loading"),
            Self::Ready(texture) => write!(f, "Ready({:?})", texture.size()),
            Self::Failed => f.write_str("Failed"),
        }
    }
}

/// The thumbnails known to the window.
#[derive(Clone, Debug, Default)]
pub struct Thumbnails {
    entries: HashMap<String, (Thumb, u64)>,
    clock: u64,
}

impl Thumbnails {
    /// The state of `url`, if it was asked for.
    #[must_use]
    pub fn get(&self, url: &str) -> Option<&Thumb> {
        self.entries.get(url).map(|(thumb, _)| thumb)
    }

    /// Whether `url` still has to be asked for.
    #[must_use]
    pub fn wants(&self, url: &str) -> bool {
        !self.entries.contains_key(url)
    }

    /// Marks `url` as being fetched.
    pub fn loading(&mut self, url: &str) {
        self.clock += 1;
        self.entries
            .insert(url.to_owned(), (Thumb::Loading, self.clock));
    }

    /// Marks `url` as used now (so it is kept).
    pub fn touch(&mut self, url: &str) {
        self.clock += 1;
        if let Some((_, used)) = self.entries.get_mut(url) {
            *used = self.clock;
        }
    }

    /// Stores the result for `url`, dropping the least recently used textures beyond the limit.
    pub fn finish(
        &mut self,
        ctx: &egui::Context,
        url: &str,
        image: Result<egui::ColorImage, String>,
    ) {
        self.clock += 1;
        let thumb = match image {
            Ok(image) => Thumb::Ready(ctx.load_texture(url, image, egui::TextureOptions::LINEAR)),
            Err(error) => {
                tracing::debug!(%url, %error, "thumbnail unavailable");
                Thumb::Failed
            }
        };
        self.entries.insert(url.to_owned(), (thumb, self.clock));
        let ready = self
            .entries
            .values()
            .filter(|(t, _)| matches!(t, Thumb::Ready(_)))
            .count();
        if ready > KEEP {
            let mut by_age: Vec<(u64, String)> = self
                .entries
                .iter()
                .filter(|(_, (t, _))| matches!(t, Thumb::Ready(_)))
                .map(|(url, (_, used))| (*used, url.clone()))
                .collect();
            by_age.sort();
            for (_, url) in by_age.into_iter().take(ready - KEEP) {
                // Forgotten, not failed: it is fetched again if it comes back into view.
                self.entries.remove(&url);
            }
        }
    }
}

/// Downloads and decodes one image into a thumbnail.
pub async fn fetch(http: reqwest::Client, url: String) -> Result<egui::ColorImage, String> {
    if !super::model::openable(&url) {
        return Err("not an http(s) image".to_owned());
    }
    let response = http
        .get(&url)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| crate::net::describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("the image server answered {}", response.status()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BYTES as u64)
    {
        return Err("image too large".to_owned());
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| crate::net::describe(&e))?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err("image too large".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    tokio::task::spawn_blocking(move || decode(&body))
        .await
        .map_err(|e| e.to_string())?
}

/// Decodes image bytes and shrinks them to fit [`MAX_SIZE`].
pub fn decode(bytes: &[u8]) -> Result<egui::ColorImage, String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| format!("not a readable image: {e}"))?;
    let [width, height] = MAX_SIZE;
    let small = if image.width() > width || image.height() > height {
        image.thumbnail(width, height)
    } else {
        image
    };
    let rgba = small.to_rgba8();
    let size = [rgba.width() as usize, rgba.height() as usize];
    Ok(egui::ColorImage::from_rgba_unmultiplied(
        size,
        rgba.as_raw(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        bytes
    }

    #[test]
    fn large_images_shrink_to_fit_and_keep_their_shape() {
        let image = decode(&jpeg(1600, 900)).unwrap();
        assert_eq!(image.size, [400, 225]);
        let small = decode(&jpeg(120, 80)).unwrap();
        assert_eq!(small.size, [120, 80]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"<html>not an image</html>").is_err());
        assert!(decode(&[]).is_err());
        let mut truncated = jpeg(200, 100);
        truncated.truncate(300);
        assert!(decode(&truncated).is_err());
    }

    #[test]
    fn least_recently_used_textures_go_first() {
        let ctx = egui::Context::default();
        let mut thumbnails = Thumbnails::default();
        for n in 0..KEEP + 5 {
            let url = format!("https://example.com/{n}.jpg");
            thumbnails.loading(&url);
            thumbnails.finish(
                &ctx,
                &url,
                Ok(egui::ColorImage::filled([2, 2], egui::Color32::RED)),
            );
            if n == 0 {
                continue;
            }
            thumbnails.touch("https://example.com/0.jpg");
        }
        assert!(matches!(
            thumbnails.get("https://example.com/0.jpg"),
            Some(Thumb::Ready(_))
        ));
        assert!(thumbnails.get("https://example.com/1.jpg").is_none());
        assert!(thumbnails.wants("https://example.com/1.jpg"));
        thumbnails.finish(&ctx, "https://example.com/bad.jpg", Err("404".to_owned()));
        assert!(matches!(
            thumbnails.get("https://example.com/bad.jpg"),
            Some(Thumb::Failed)
        ));
    }
}
