//! Photo intake: a file is accepted only if its content is a JPEG or PNG picture; it is
//! decoded under pixel limits, turned upright by its EXIF orientation, scaled down to a
//! sensible size, and re-encoded — so nothing of the original file (EXIF, GPS, XMP, maker
//! notes, trailing data) survives. The result goes to disk under a random name, synced,
//! before the database records it.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Write};
use std::path::Path;

/// Largest upload accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest picture decoded (pixels): defeats decompression bombs.
const MAX_PIXELS: u64 = 40_000_000;
/// Longest side kept; phone photos are scaled down to this.
const MAX_SIDE: u32 = 2560;

/// Why a file was refused; each is a translated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoError {
    TooLarge,
    Empty,
    /// HEIC/HEIF (iPhone default): cannot be decoded here.
    Heic,
    /// Not a JPEG or PNG by content.
    NotAPhoto,
    /// Looked like a photo but could not be decoded (corrupt, or over the pixel limit).
    Unreadable,
}

impl PhotoError {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            PhotoError::TooLarge => "photo_too_large",
            PhotoError::Empty => "photo_empty",
            PhotoError::Heic => "photo_heic",
            PhotoError::NotAPhoto => "photo_type",
            PhotoError::Unreadable => "photo_unreadable",
        }
    }
}

/// A cleaned photo ready to store.
pub struct Photo {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the bytes as uploaded, to recognise the same photo used twice.
    pub source_sha256: String,
}

fn sniff(bytes: &[u8]) -> Result<ImageFormat, PhotoError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(ImageFormat::Png)
    } else if bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && [&b"heic"[..], b"heix", b"mif1", b"msf1", b"hevc"].contains(&&bytes[8..12])
    {
        Err(PhotoError::Heic)
    } else {
        Err(PhotoError::NotAPhoto)
    }
}

/// Bytes a decoded pixel is counted as (8-bit RGBA) when budgeting decodes.
pub const BYTES_PER_PIXEL: u64 = 4;

/// Checks the upload and reads its header only: the format and a decoder over it, under
/// the pixel limit.
fn open(bytes: &[u8]) -> Result<(ImageFormat, impl ImageDecoder + '_), PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(PhotoError::TooLarge);
    }
    let format = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(MAX_PIXELS * BYTES_PER_PIXEL);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|_| PhotoError::Unreadable)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(PhotoError::Unreadable);
    }
    Ok((format, decoder))
}

/// The memory decoding `bytes` will take (width × height × [`BYTES_PER_PIXEL`]), read from
/// the header without decoding; the same refusals as [`clean`] for what is not a photo.
pub fn decode_cost(bytes: &[u8]) -> Result<u64, PhotoError> {
    let (_, decoder) = open(bytes)?;
    let (w, h) = decoder.dimensions();
    Ok(u64::from(w) * u64::from(h) * BYTES_PER_PIXEL)
}

/// Checks, decodes, orients, scales and re-encodes an uploaded photo.
pub fn clean(bytes: &[u8]) -> Result<Photo, PhotoError> {
    let (format, mut decoder) = open(bytes)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| PhotoError::Unreadable)?;
    img.apply_orientation(orientation);
    if img.width().max(img.height()) > MAX_SIDE {
        img = img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
    }
    let mut out = Vec::new();
    let (mime, extension) = match format {
        ImageFormat::Png => {
            img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .map_err(|_| PhotoError::Unreadable)?;
            ("image/png", "png")
        }
        _ => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            rgb.write_with_encoder(enc)
                .map_err(|_| PhotoError::Unreadable)?;
            ("image/jpeg", "jpg")
        }
    };
    Ok(Photo {
        width: img.width(),
        height: img.height(),
        bytes: out,
        mime,
        extension,
        source_sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// Writes `bytes` to `dir/name` durably (file and directory synced) and returns the name.
pub fn save(dir: &Path, extension: &str, bytes: &[u8]) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let name = format!("{}.{extension}", hex::encode(rand::random::<[u8; 16]>()));
    let tmp = dir.join(format!(".{name}.part"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(&name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, _| {
            image::Rgb([(x % 255) as u8, 80, 160])
        }));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    /// Inserts an EXIF APP1 segment (orientation 6 = rotate 90° clockwise, plus a GPS
    /// pointer and a maker string) right after the JPEG's SOI marker.
    fn with_exif(jpeg: &[u8]) -> Vec<u8> {
        let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
        // Three IFD0 entries: Orientation, Make (ASCII at offset), GPSInfo pointer.
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
        tiff.extend_from_slice(&[0x01, 0x0F, 0x00, 0x02, 0, 0, 0, 8]);
        tiff.extend_from_slice(&(8u32 + 2 + 36 + 4).to_be_bytes());
        tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]);
        tiff.extend_from_slice(&(8u32 + 2 + 36 + 4 + 8).to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(b"SECRET!\0");
        // GPS IFD: one entry, GPSLatitudeRef = "N".
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_and_gps_are_gone_and_the_photo_is_upright() {
        let src = with_exif(&jpeg(40, 20));
        let exif = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&src))
            .expect("the test photo has EXIF");
        assert!(
            exif.get_field(exif::Tag::GPSLatitudeRef, exif::In::PRIMARY)
                .is_some()
        );
        let p = clean(&src).unwrap();
        assert_eq!((p.width, p.height), (20, 40), "rotated by its orientation");
        assert!(
            exif::Reader::new()
                .read_from_container(&mut Cursor::new(&p.bytes))
                .is_err(),
            "no EXIF left"
        );
        assert!(!p.bytes.windows(7).any(|w| w == b"SECRET!"));
        assert_eq!(p.mime, "image/jpeg");
    }

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(
            clean(b"<svg onload=alert(1)>").err(),
            Some(PhotoError::NotAPhoto)
        );
        assert_eq!(clean(b"%PDF-1.7").err(), Some(PhotoError::NotAPhoto));
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0");
        assert_eq!(clean(&heic).err(), Some(PhotoError::Heic));
        let mut broken = jpeg(10, 10);
        broken.truncate(40);
        assert_eq!(clean(&broken).err(), Some(PhotoError::Unreadable));
        assert_eq!(clean(&[]).err(), Some(PhotoError::Empty));
    }

    #[test]
    fn big_photos_are_scaled_down() {
        let p = clean(&jpeg(3000, 1500)).unwrap();
        assert_eq!((p.width, p.height), (2560, 1280));
    }
}
