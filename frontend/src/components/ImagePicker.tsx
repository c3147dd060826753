import { useEffect, useState } from 'react';
import { Button, Image, Space, Upload } from 'antd';

/** Choose an image, see it, then send it: nothing is uploaded before the operator saw it. */
export function ImagePicker({
  label,
  disabled,
  busy,
  onUpload,
  testId,
}: {
  label: string;
  disabled?: boolean;
  busy?: boolean;
  onUpload: (file: File) => void;
  testId: string;
}) {
  const [file, setFile] = useState<File | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file) return setUrl(null);
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return (
    <Space direction="vertical">
      <Upload
        accept="image/png,image/jpeg,image/webp"
        showUploadList={false}
        disabled={disabled}
        beforeUpload={(f) => {
          setFile(f);
          return false;
        }}
      >
        <Button disabled={disabled} data-testid={`${testId}-choose`}>
          选择图片
        </Button>
      </Upload>
      {url ? (
        <Space align="start">
          <Image src={url} width={160} alt="预览" data-testid={`${testId}-preview`} />
          <Button
            type="primary"
            loading={busy}
            disabled={disabled}
            onClick={() => file && onUpload(file)}
            data-testid={`${testId}-upload`}
          >
            {label}
          </Button>
        </Space>
      ) : null}
    </Space>
  );
}
