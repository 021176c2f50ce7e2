//! Image bytes to the model's input tensor: decode (JPEG, PNG), resize and crop, reorder the
//! channels, scale and normalise, lay out as NCHW or NHWC. Pure: bytes in, numbers out.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{ImageReader, Limits};

use super::spec::{Channels, Dtype, Filter, Layout, Preprocess, Resize};

/// Decoded images may not be larger than this on either side: a small file that claims to be
/// huge (a decompression bomb) fails its item instead of taking the worker's memory.
const MAX_SIDE: u32 = 16_384;
/// The most a decoder may allocate for one image.
const MAX_DECODE_BYTES: u64 = 512 << 20;

/// One preprocessed image: the samples of a batch-of-one tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

/// Why an image could not be turned into a tensor (fails only its item).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(pub String);

/// Decode `bytes` and preprocess it as `pre` says.
pub fn tensor(bytes: &[u8], pre: &Preprocess, resizer: &mut Resizer) -> Result<Pixels, ImageError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError(format!("reading the image: {e}")))?;
    if reader.format().is_none() {
        return Err(ImageError("not a JPEG or PNG image".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| ImageError(format!("decoding the image: {e}")))?;
    let (width, height, samples, pixel) = match pre.channels {
        Channels::Gray => {
            let gray = decoded.to_luma8();
            (gray.width(), gray.height(), gray.into_raw(), PixelType::U8)
        }
        Channels::Rgb | Channels::Bgr => {
            let rgb = decoded.to_rgb8();
            (rgb.width(), rgb.height(), rgb.into_raw(), PixelType::U8x3)
        }
    };
    drop(decoded);
    if width == 0 || height == 0 {
        return Err(ImageError("the image is empty".into()));
    }
    let source = Image::from_vec_u8(width, height, samples, pixel)
        .map_err(|e| ImageError(format!("the decoded image: {e}")))?;
    let mut target = Image::new(pre.width, pre.height, pixel);
    let options = ResizeOptions::new().resize_alg(algorithm(pre.filter));
    let options = match pre.resize {
        Resize::Stretch => options,
        Resize::CenterCrop => options.fit_into_destination(Some((0.5, 0.5))),
        Resize::ShorterSide(side) => {
            // The crop, in source pixels, of what a resize of the shorter side to `side` followed
            // by a centre crop of width×height keeps: done in one resampling pass.
            let scale = f64::from(side) / f64::from(width.min(height));
            let (w, h) = (
                (f64::from(width) * scale).round().max(1.0),
                (f64::from(height) * scale).round().max(1.0),
            );
            let (cw, ch) = (f64::from(pre.width), f64::from(pre.height));
            let left = ((w - cw) / 2.0).floor().max(0.0);
            let top = ((h - ch) / 2.0).floor().max(0.0);
            let (sx, sy) = (f64::from(width) / w, f64::from(height) / h);
            options.crop(left * sx, top * sy, cw.min(w) * sx, ch.min(h) * sy)
        }
    };
    resizer
        .resize(&source, &mut target, &options)
        .map_err(|e| ImageError(format!("resizing the image: {e}")))?;
    Ok(arrange(target.buffer(), pre))
}

fn algorithm(filter: Filter) -> ResizeAlg {
    match filter {
        Filter::Nearest => ResizeAlg::Nearest,
        Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
        Filter::CatmullRom => ResizeAlg::Convolution(FilterType::CatmullRom),
        Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
    }
}

/// Interleaved 8-bit samples (RGB or gray, `width`×`height`) to the model's layout, channel
/// order and type.
fn arrange(samples: &[u8], pre: &Preprocess) -> Pixels {
    let c = pre.channels.count();
    let plane = pre.width as usize * pre.height as usize;
    // Source channel of each target channel.
    let order: &[usize] = match pre.channels {
        Channels::Rgb => &[0, 1, 2],
        Channels::Bgr => &[2, 1, 0],
        Channels::Gray => &[0],
    };
    let index = |pixel: usize, channel: usize| match pre.layout {
        Layout::Nchw => channel * plane + pixel,
        Layout::Nhwc => pixel * c + channel,
    };
    match pre.dtype {
        Dtype::U8 => {
            let mut out = vec![0u8; plane * c];
            for (pixel, px) in samples.chunks_exact(c).enumerate() {
                for (channel, &from) in order.iter().enumerate() {
                    out[index(pixel, channel)] = px[from];
                }
            }
            Pixels::U8(out)
        }
        Dtype::F32 => {
            let mut out = vec![0f32; plane * c];
            // x·scale−mean)/std as one multiply-add per sample.
            let mul: Vec<f32> = pre.std.iter().map(|s| pre.scale / s).collect();
            let add: Vec<f32> = pre.mean.iter().zip(&pre.std).map(|(m, s)| -m / s).collect();
            for (pixel, px) in samples.chunks_exact(c).enumerate() {
                for (channel, &from) in order.iter().enumerate() {
                    out[index(pixel, channel)] = f32::from(px[from]) * mul[channel] + add[channel];
                }
            }
            Pixels::F32(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

    fn spec(layout: Layout, channels: Channels) -> Preprocess {
        Preprocess {
            width: 2,
            height: 2,
            resize: Resize::Stretch,
            filter: Filter::Nearest,
            channels,
            scale: 1.0,
            mean: vec![0.0; channels.count()],
            std: vec![1.0; channels.count()],
            layout,
            dtype: Dtype::F32,
        }
    }

    fn png(image: &RgbImage) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).expect("png");
        bytes.into_inner()
    }

    #[test]
    fn layouts_and_channel_orders() {
        // A 2×2 image whose pixel p has RGB (10p+1, 10p+2, 10p+3).
        let image = RgbImage::from_fn(2, 2, |x, y| {
            let p = (y * 2 + x) as u8;
            image::Rgb([10 * p + 1, 10 * p + 2, 10 * p + 3])
        });
        let bytes = png(&image);
        let mut resizer = Resizer::new();
        let nchw = tensor(&bytes, &spec(Layout::Nchw, Channels::Rgb), &mut resizer).expect("ok");
        assert_eq!(
            nchw,
            Pixels::F32(vec![
                1., 11., 21., 31., 2., 12., 22., 32., 3., 13., 23., 33.
            ])
        );
        let nhwc = tensor(&bytes, &spec(Layout::Nhwc, Channels::Bgr), &mut resizer).expect("ok");
        assert_eq!(
            nhwc,
            Pixels::F32(vec![
                3., 2., 1., 13., 12., 11., 23., 22., 21., 33., 32., 31.
            ])
        );
        let mut normalised = spec(Layout::Nchw, Channels::Rgb);
        normalised.scale = 0.5;
        normalised.mean = vec![1.0, 0.0, 0.0];
        normalised.std = vec![2.0, 1.0, 1.0];
        let Pixels::F32(v) = tensor(&bytes, &normalised, &mut resizer).expect("ok") else {
            panic!("not f32")
        };
        assert_eq!(v[0], (1.0 * 0.5 - 1.0) / 2.0);
        let mut raw = spec(Layout::Nchw, Channels::Gray);
        raw.dtype = Dtype::U8;
        assert!(matches!(tensor(&bytes, &raw, &mut resizer), Ok(Pixels::U8(v)) if v.len() == 4));
    }

    #[test]
    fn shorter_side_then_centre_crop() {
        // 8×4, left half black, right half white: resized to shorter side 2 (4×2), the centre
        // 2×2 crop is half black, half white.
        let image = RgbImage::from_fn(8, 4, |x, _| image::Rgb([if x < 4 { 0 } else { 255 }; 3]));
        let mut pre = spec(Layout::Nchw, Channels::Gray);
        pre.resize = Resize::ShorterSide(2);
        let Pixels::F32(v) = tensor(&png(&image), &pre, &mut Resizer::new()).expect("ok") else {
            panic!("not f32")
        };
        assert_eq!(v, [0., 255., 0., 255.]);
    }

    #[test]
    fn bad_images_fail_with_a_reason() {
        let pre = spec(Layout::Nchw, Channels::Rgb);
        let mut resizer = Resizer::new();
        let err = tensor(b"not an image at all", &pre, &mut resizer).expect_err("bad");
        assert!(err.0.contains("not a JPEG or PNG"), "{err}");
        let mut truncated = png(&RgbImage::new(64, 64));
        truncated.truncate(40);
        let err = tensor(&truncated, &pre, &mut resizer).expect_err("bad");
        assert!(err.0.contains("decoding"), "{err}");
    }
}
