;;; cardex.el --- Search compliance knowledge cards through cardexd  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: docs, tools

;;; Commentary:

;; cardex.el talks to cardexd, the cardex daemon, over its Unix socket with
;; `make-network-process' (:family 'local), one reused connection, newline-delimited
;; JSON-RPC 2.0 (see docs/protocol.md).
;;
;;   M-x cardex-search   search, pick a hit with `completing-read', read the card
;;   M-x cardex-show     open a card by id
;;   `cardex-completion-at-point' completes card ids (Q077) and clause ids
;;     (ISO27001:2022/6.1.2) in any buffer: (add-hook 'completion-at-point-functions
;;     #'cardex-completion-at-point nil t)

;;; Code:

(require 'json)
(require 'subr-x)

(defgroup cardex nil
  "Search question-and-answer knowledge cards served by cardexd."
  :group 'tools)

(defcustom cardex-socket nil
  "Path of cardexd's socket; nil means the default the daemon uses.
That is $CARDEX_SOCKET, else $XDG_RUNTIME_DIR/cardex/cardex.sock,
else /tmp/cardex-UID/cardex.sock."
  :type '(choice (const :tag "Default" nil) file))

(defcustom cardex-timeout 5
  "Seconds to wait for a reply from cardexd."
  :type 'number)

(defcustom cardex-limit 20
  "How many hits `cardex-search' offers."
  :type 'integer)

(defvar cardex--process nil "The connection to cardexd.")
(defvar cardex--next-id 1)
(defvar cardex--replies (make-hash-table :test 'eql) "Replies by request id.")

(defun cardex-socket-path ()
  "The socket path cardex.el connects to."
  (or cardex-socket
      (let ((env (getenv "CARDEX_SOCKET")))
        (and env (not (string-empty-p env)) env))
      (let ((xdg (getenv "XDG_RUNTIME_DIR")))
        (and xdg (file-name-absolute-p xdg) (expand-file-name "cardex/cardex.sock" xdg)))
      (format "/tmp/cardex-%d/cardex.sock" (user-uid))))

(defun cardex--filter (proc string)
  "Collect complete reply lines from PROC's output STRING."
  (let ((buf (concat (or (process-get proc 'cardex-partial) "") string))
        (start 0))
    (while (string-match "\n" buf start)
      (let* ((line (substring buf start (match-beginning 0)))
             (reply (ignore-errors
                      (json-parse-string line :object-type 'alist :array-type 'list
                                         :null-object nil :false-object :false))))
        (when reply
          (puthash (alist-get 'id reply) reply cardex--replies)))
      (setq start (match-end 0)))
    (process-put proc 'cardex-partial (substring buf start))))

(defun cardex--connection ()
  "Return a live connection to cardexd, connecting if needed."
  (unless (and cardex--process (process-live-p cardex--process))
    (let ((path (cardex-socket-path)))
      (setq cardex--process
            (condition-case err
                (make-network-process :name "cardex" :family 'local :service path
                                      :coding 'utf-8 :noquery t :filter #'cardex--filter)
              (file-error
               (user-error "cardex: cannot reach the daemon at %s (%s); start it with: cardexd --seeds DIR"
                           path (error-message-string err)))))))
  cardex--process)

(defun cardex-request (method &optional params)
  "Call METHOD with PARAMS (an alist) and return the result, or signal an error."
  (let* ((proc (cardex--connection))
         (id (setq cardex--next-id (1+ cardex--next-id)))
         (msg `((jsonrpc . "2.0") (id . ,id) (method . ,method)
                ,@(when params `((params . ,params)))))
         (deadline (+ (float-time) cardex-timeout))
         reply)
    (process-send-string proc (concat (json-serialize msg) "\n"))
    (while (and (not (setq reply (gethash id cardex--replies)))
                (< (float-time) deadline)
                (process-live-p proc))
      (accept-process-output proc 0.05))
    (remhash id cardex--replies)
    (cond
     ((null reply)
      (if (process-live-p proc)
          (error "cardex: no reply from the daemon at %s within %s s" (cardex-socket-path) cardex-timeout)
        (setq cardex--process nil)
        (error "cardex: the daemon at %s closed the connection" (cardex-socket-path))))
     ((alist-get 'error reply)
      (let ((e (alist-get 'error reply)))
        (signal 'cardex-error (list (alist-get 'message e) (alist-get 'code e)))))
     (t (alist-get 'result reply)))))

(define-error 'cardex-error "cardex")

(defun cardex--hit-label (hit)
  (format "%-5s %s  [%s]" (alist-get 'id hit) (alist-get 'question hit)
          (string-join (alist-get 'packs hit) ", ")))

;;;###autoload
(defun cardex-search (query)
  "Search the cards for QUERY, choose a hit, and show the card."
  (interactive (list (read-string "cardex: " (thing-at-point 'symbol t))))
  (let* ((res (cardex-request "search" `((query . ,query) (limit . ,cardex-limit))))
         (hits (alist-get 'hits res)))
    (if (null hits)
        (message "cardex: no cards match “%s”" query)
      (let* ((table (mapcar (lambda (h) (cons (cardex--hit-label h) h)) hits))
             (choice (completing-read (format "cardex (%d of %d): " (length hits)
                                              (alist-get 'total res))
                                      table nil t nil nil (caar table))))
        (cardex-show (alist-get 'id (cdr (assoc choice table))))))))

;;;###autoload
(defun cardex-show (id)
  "Show card ID in a read-only Markdown buffer (markdown-mode when installed)."
  (interactive (list (read-string "cardex card id: " (thing-at-point 'symbol t))))
  (let* ((card (cardex-request "get" `((id . ,id))))
         (buf (get-buffer-create (format "*cardex %s*" (alist-get 'id card)))))
    (with-current-buffer buf
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert (or (alist-get 'body card) ""))
        (insert (format "\n\n---\nid: %s\npacks: %s\nclauses: %s\n"
                        (alist-get 'id card)
                        (string-join (alist-get 'packs card) ", ")
                        (string-join (append (alist-get 'primary_ids card)
                                             (alist-get 'overlap_ids card)) ", ")))
        (if (fboundp 'markdown-view-mode) (markdown-view-mode) (special-mode))
        (setq-local cardex-card-id (alist-get 'id card))
        (goto-char (point-min))))
    (pop-to-buffer buf)
    buf))

(defvar-local cardex-card-id nil "The id of the card shown in this buffer.")

(defun cardex--candidates (prefix)
  "Card ids and clause ids that complete PREFIX."
  (let (out)
    (when (string-match-p "\\`[Qq][0-9]*\\'" prefix)
      (dolist (h (alist-get 'hits (cardex-request "search" `((query . "") (id_prefix . ,(upcase prefix))
                                                             (limit . 100)))))
        (push (propertize (alist-get 'id h) 'cardex-question (alist-get 'question h)) out)))
    (when (> (length prefix) 0)
      (dolist (h (alist-get 'hits (cardex-request "search" `((query . ,prefix) (limit . 20)))))
        (dolist (c (alist-get 'clause_ids h))
          (when (string-prefix-p (downcase prefix) (downcase c))
            (push (propertize c 'cardex-question (alist-get 'question h)) out)))))
    (delete-dups (nreverse out))))

;;;###autoload
(defun cardex-completion-at-point ()
  "Complete card ids and clause ids at point (for `completion-at-point-functions')."
  (let ((bounds (save-excursion
                  (let ((end (point)))
                    (skip-chars-backward "A-Za-z0-9.:/_-")
                    (cons (point) end)))))
    (when (< (car bounds) (cdr bounds))
      (let ((prefix (buffer-substring-no-properties (car bounds) (cdr bounds))))
        (list (car bounds) (cdr bounds)
              (completion-table-dynamic
               (lambda (_) (ignore-errors (cardex--candidates prefix))))
              :annotation-function
              (lambda (c) (let ((q (get-text-property 0 'cardex-question c)))
                            (and q (concat "  " q))))
              :exclusive 'no)))))

(provide 'cardex)
;;; cardex.el ends here
