import { Alert } from 'antd';
import { ApiError } from '../api/client';

/** An API error in Chinese, shown next to what caused it. */
export function ErrorText({ error, style }: { error: unknown; style?: React.CSSProperties }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const fields = e ? Object.entries(e.fieldErrors) : [];
  return (
    <Alert
      role="alert"
      type="error"
      showIcon
      style={{ marginTop: 8, ...style }}
      title={e?.message ?? (error instanceof Error ? error.message : String(error))}
      description={
        fields.length > 0 ? (
          <ul style={{ margin: 0, paddingLeft: 18 }}>
            {fields.map(([k, v]) => (
              <li key={k}>
                {k}:{v}
              </li>
            ))}
          </ul>
        ) : undefined
      }
    />
  );
}

/** Field errors of a 422 as antd Form field data. */
export function fieldData(error: unknown) {
  if (!(error instanceof ApiError)) return [];
  return Object.entries(error.fieldErrors).map(([name, msg]) => ({ name, errors: [msg] }));
}
