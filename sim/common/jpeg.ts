// The one image every simulator sends: an 8x8 grey baseline JPEG (168 bytes) as the qyzn, wsdoor and
// wscam snapshots, and as the gantry's getCabinetImageVedio file. A real image, so a subscriber of
// media/* can decode what it gets, and small enough for high rates.
export const TINY_JPEG_BASE64 =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAIAAgBAREA/8QAMQAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoLEAEAAAAAAAAAAAAAAAAAAAAA/9oACAEBAAA/AP6QH//Z';

export const TINY_JPEG: Buffer = Buffer.from(TINY_JPEG_BASE64, 'base64');
